"""Reads of orders, products and purchase metrics shared by the pages, the API and the contact
page. Orders are visible as their contact is (``contacts.selectors.visibility_q``); orders of
anonymous visitors are unassigned, like contacts without an owner."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from danhba.accounts import permissions as perms
from danhba.accounts.models import User
from danhba.contacts.models import Contact
from danhba.contacts.selectors import is_id, param_date, visibility_q
from danhba.core.errors import InvalidInput, NotFound
from danhba.core.keyset import Page, paginate
from danhba.core.normalize import clean_text
from danhba.tracking.models import Order, OrderLine, Product, PurchaseStats

MAX_LIMIT = 200


@dataclass
class OrderFilters:
    contact: int | None = None
    status: str = ""
    channel: str = ""
    placed_after: dt.date | None = None
    placed_before: dt.date | None = None

    @classmethod
    def from_params(cls, params: Any) -> OrderFilters:
        errors: dict[str, list[str]] = {}

        def date(name: str) -> dt.date | None:
            return param_date(params, name, errors)

        contact_raw = clean_text(params.get("contact"))
        contact = None
        if contact_raw:
            if is_id(contact_raw):
                contact = int(contact_raw)
            else:
                errors["contact"] = [gettext("a contact id")]
        status = clean_text(params.get("status"))
        if status and status not in Order.Status.values:
            errors["status"] = [gettext("must be one of %(choices)s") % {"choices": ", ".join(Order.Status.values)}]
        channel = clean_text(params.get("channel"))
        if channel and channel not in Order.SalesChannel.values:
            choices = ", ".join(Order.SalesChannel.values)
            errors["channel"] = [gettext("must be one of %(choices)s") % {"choices": choices}]
        filters = cls(
            contact=contact,
            status=status,
            channel=channel,
            placed_after=date("placed_after"),
            placed_before=date("placed_before"),
        )
        if errors:
            raise InvalidInput(errors, gettext("Some filters are not valid."))
        return filters

    def params(self) -> dict[str, str]:
        values = {
            "contact": str(self.contact or ""),
            "status": self.status,
            "channel": self.channel,
            "placed_after": self.placed_after.isoformat() if self.placed_after else "",
            "placed_before": self.placed_before.isoformat() if self.placed_before else "",
        }
        return {k: v for k, v in values.items() if v}


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def orders_visible(user: User) -> QuerySet[Order]:
    """The orders a user may see: role permission "order: view", and the contact's visibility."""
    if not user.can("order", perms.VIEW):
        return Order.objects.none()
    vis = visibility_q(user, prefix="contact__")
    qs = Order.objects.all()
    if vis is not None:
        # Anonymous orders have no contact, so no owner: unassigned, seen by every scope.
        qs = qs.filter(vis | Q(contact__isnull=True))
    return qs


def order_page(user: User, filters: OrderFilters, cursor: str | None = None, limit: int = 50) -> Page[Order]:
    """Newest first, one keyset page on (placed_at, id)."""
    qs = orders_visible(user).select_related("contact")
    if filters.contact:
        qs = qs.filter(contact_id=filters.contact)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.placed_after:
        qs = qs.filter(placed_at__gte=_day_start(filters.placed_after))
    if filters.placed_before:
        qs = qs.filter(placed_at__lt=_day_start(filters.placed_before + dt.timedelta(days=1)))
    return paginate(qs, "placed_at", cursor, max(1, min(limit, MAX_LIMIT)), descending=True)


def order_get(user: User, order_id: str) -> Order:
    """One order the user may see, with its lines and contact, or :class:`NotFound`."""
    order = (
        orders_visible(user)
        .select_related("contact", "source")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("position", "id")))
        .filter(order_id=clean_text(order_id))
        .first()
    )
    if order is None:
        raise NotFound(gettext("No such order."))
    return order


def product_page(
    user: User, q: str = "", category: str = "", cursor: str | None = None, limit: int = 50
) -> Page[Product]:
    if not user.can("order", perms.VIEW):
        return Page([])
    qs = Product.objects.all()
    q = clean_text(q)[:200]
    if q:
        qs = qs.filter(Q(product_id__istartswith=q) | Q(name__icontains=q))
    if category:
        qs = qs.filter(category=clean_text(category))
    return paginate(qs, "product_id", cursor, max(1, min(limit, MAX_LIMIT)))


def product_categories(limit: int = 200) -> list[str]:
    return list(
        Product.objects.exclude(category="").order_by("category").values_list("category", flat=True).distinct()[:limit]
    )


def purchase_stats_for(user: User, contact: Contact) -> PurchaseStats | None:
    if not user.can("order", perms.VIEW):
        return None
    return PurchaseStats.objects.filter(contact=contact).first()


def purchases_panel(user: User, contact: Contact, latest: int = 5) -> dict[str, Any]:
    """Context of ``tracking/_purchases_panel.html`` on the contact page (the caller has already
    checked the contact is visible): nothing when the role may not see orders."""
    if not user.can("order", perms.VIEW):
        return {"purchases_visible": False}
    stats = PurchaseStats.objects.filter(contact=contact).first()
    orders = list(Order.objects.filter(contact=contact).order_by("-placed_at", "-id")[:latest])
    top = []
    if stats and stats.categories:
        ranked = sorted(stats.categories.items(), key=lambda kv: (-float(kv[1]["amount"]), -kv[1]["count"], kv[0]))
        top = [{"name": name, **values} for name, values in ranked[:5]]
    return {
        "purchases_visible": True,
        "purchase_stats": stats,
        "purchase_orders": orders,
        "purchase_top_categories": top,
        "shop_currency": settings.SHOP_CURRENCY,
    }
