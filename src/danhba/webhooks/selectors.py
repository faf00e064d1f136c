"""Reads of webhooks: endpoints with their health, and the delivery log, newest first and
keyset-paginated (a busy endpoint's log is long)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from danhba.core.errors import InvalidInput, NotFound
from danhba.core.keyset import MAX_PK, Page, paginate
from danhba.webhooks.models import PING, Topic, WebhookDelivery, WebhookEndpoint

LOG_PAGE = 50


def endpoint_list() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.select_related("created_by").order_by("-is_active", "id")


def endpoint_get(pk: int) -> WebhookEndpoint:
    if not 0 < pk <= MAX_PK:
        raise NotFound(_("No such webhook endpoint."))
    endpoint = WebhookEndpoint.objects.filter(pk=pk).first()
    if endpoint is None:
        raise NotFound(_("No such webhook endpoint."))
    return endpoint


def delivery_get(endpoint: WebhookEndpoint, pk: int) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.filter(endpoint=endpoint, pk=pk).first() if 0 < pk <= MAX_PK else None
    if delivery is None:
        raise NotFound(_("No such delivery."))
    delivery.endpoint = endpoint
    return delivery


@dataclass
class LogFilters:
    status: str = ""
    topic: str = ""

    def check(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.status and self.status not in WebhookDelivery.Status.values:
            errors["status"] = [_("must be one of %(choices)s") % {"choices": ", ".join(WebhookDelivery.Status.values)}]
        if self.topic and self.topic not in (*Topic.values, PING):
            errors["topic"] = [_("must be one of %(choices)s") % {"choices": ", ".join((*Topic.values, PING))}]
        if errors:
            raise InvalidInput(errors)


def delivery_page(
    endpoint: WebhookEndpoint, filters: LogFilters, cursor: str | None = None, limit: int = LOG_PAGE
) -> Page[WebhookDelivery]:
    filters.check()
    qs = WebhookDelivery.objects.filter(endpoint=endpoint)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.topic:
        qs = qs.filter(topic=filters.topic)
    page = paginate(qs, "created_at", cursor, limit, descending=True)
    for delivery in page.items:
        delivery.endpoint = endpoint
    return page
