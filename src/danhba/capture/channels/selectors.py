"""Reads of the channels for the pages and the API: connections as shown (never a secret),
payload lists with filters and keyset pages, counts by status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, QuerySet
from django.urls import reverse

from danhba.capture.models import ChannelConnection, ChannelKind, ChannelPayload, PayloadStatus
from danhba.core.keyset import Page, paginate

PAGE_SIZE = 50


def webhook_url(connection: ChannelConnection) -> str:
    name = "capture:facebook-hook" if connection.kind == ChannelKind.FACEBOOK else "capture:zalo-hook"
    return settings.SITE_URL + reverse(name, args=[connection.key])


def connection_out(connection: ChannelConnection) -> dict[str, Any]:
    """A connection for the API: the secrets only as "set or not"."""
    return {
        "id": connection.pk, "kind": connection.kind, "name": connection.name,
        "account_id": connection.account_id, "app_id": connection.app_id,
        "graph_version": connection.graph_version, "mapping": connection.mapping,
        "is_active": connection.is_active, "webhook_url": webhook_url(connection),
        "secret_set": bool(connection.secret), "access_token_set": bool(connection.access_token),
        "verify_token_set": bool(connection.verify_token),
        "created_at": connection.created_at, "updated_at": connection.updated_at,
    }  # fmt: skip


def status_counts(connection: ChannelConnection | None = None) -> dict[str, int]:
    rows = ChannelPayload.objects.all()
    if connection is not None:
        rows = rows.filter(connection=connection)
    counts = dict(rows.values_list("status").annotate(n=Count("id")).order_by())
    return {status: int(counts.get(status, 0)) for status in PayloadStatus.values}


@dataclass
class PayloadFilters:
    status: str = ""
    connection: int | None = None
    kind: str = ""

    @classmethod
    def from_params(cls, params: Any) -> PayloadFilters:
        status = params.get("status", "")
        kind = params.get("kind", "")
        raw = str(params.get("connection") or "")
        return cls(
            status=status if status in PayloadStatus.values else "",
            connection=int(raw) if raw.isdigit() and len(raw) < 12 else None,
            kind=kind if kind in ChannelKind.values else "",
        )

    def as_params(self) -> dict[str, str]:
        out = {"status": self.status, "kind": self.kind, "connection": str(self.connection or "")}
        return {k: v for k, v in out.items() if v}


def payloads_filtered(filters: PayloadFilters) -> QuerySet[ChannelPayload]:
    rows = ChannelPayload.objects.select_related("connection")
    if filters.status:
        rows = rows.filter(status=filters.status)
    if filters.connection:
        rows = rows.filter(connection_id=filters.connection)
    if filters.kind:
        rows = rows.filter(kind=filters.kind)
    return rows


def payload_page(filters: PayloadFilters, cursor: str | None, limit: int = PAGE_SIZE) -> Page[ChannelPayload]:
    """Newest first, keyset pages on the id (a bad cursor is the first page)."""
    return paginate(payloads_filtered(filters).defer("body"), "id", cursor, limit, descending=True)


def payload_out(payload: ChannelPayload, *, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": payload.pk, "kind": payload.kind, "event": payload.event, "status": payload.status,
        "connection_id": payload.connection_id,
        "connection": payload.connection.name if payload.connection else None,
        "received_at": payload.received_at, "processed_at": payload.processed_at, "attempts": payload.attempts,
        "error": payload.error, "contact_id": payload.contact_id,
    }  # fmt: skip
    if full:
        out["body"] = payload.body
        out["headers"] = payload.headers
    return out
