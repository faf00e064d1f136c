"""Keyset (seek) pagination: the next page starts after the last row's (sort value, id), so
page 1,000 costs what page 1 costs. Cursors are opaque base64 JSON."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.db.models import Q, QuerySet

from danhba.core.errors import ServiceError

T = TypeVar("T")


class BadCursor(ServiceError):
    code = "bad_cursor"


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def encode_cursor(values: list[Any]) -> str:
    def conv(v: Any) -> Any:
        return {"dt": v.isoformat()} if isinstance(v, dt.datetime) else v

    raw = json.dumps([conv(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor("The cursor is not valid; start again from the first page.") from None
    if not isinstance(values, list) or len(values) != size:
        raise BadCursor("The cursor is not valid; start again from the first page.")
    out: list[Any] = []
    for v in values:
        if isinstance(v, dict) and "dt" in v:
            try:
                out.append(dt.datetime.fromisoformat(str(v["dt"])))
            except ValueError:
                raise BadCursor("The cursor is not valid; start again from the first page.") from None
        elif isinstance(v, (str, int, float)) and not isinstance(v, bool):
            out.append(v)
        else:
            raise BadCursor("The cursor is not valid; start again from the first page.")
    return out


def after(column: str, value: Any, pk_column: str, pk: Any, descending: bool = False) -> Q:
    """Rows strictly after (value, pk) in (column, pk) order.

    The redundant ``column >= value`` lets SQLite and PostgreSQL start the index range scan at
    the cursor instead of filtering from the first row.
    """
    if descending:
        return Q(**{f"{column}__lte": value}) & (
            Q(**{f"{column}__lt": value}) | Q(**{column: value, f"{pk_column}__lt": pk})
        )
    return Q(**{f"{column}__gte": value}) & (
        Q(**{f"{column}__gt": value}) | Q(**{column: value, f"{pk_column}__gt": pk})
    )


def paginate(qs: QuerySet[Any], column: str, cursor: str | None, limit: int, descending: bool = False) -> Page[Any]:
    """One page of ``qs`` ordered by (column, id), and the cursor of the next one."""
    if cursor:
        value, pk = decode_cursor(cursor, 2)
        qs = qs.filter(after(column, value, "id", pk, descending))
    prefix = "-" if descending else ""
    rows = list(qs.order_by(f"{prefix}{column}", f"{prefix}id")[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([_attr(last, column), last.pk])
    return Page(rows, next_cursor)


def _attr(obj: Any, path: str) -> Any:
    for part in path.split("__"):
        obj = getattr(obj, part)
    return obj
