"""Keyset (seek) pagination: the next page starts after the last row's (sort value, id), the
previous one ends before the first row's (the same index walked backwards), so page 1,000 costs
what page 1 costs. Cursors are opaque base64 JSON; a cursor for the page *before* its row starts
with ``~`` (not a base64url character)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from danhba.core.errors import ServiceError

T = TypeVar("T")
# The longest cursor danhba makes: a sort value of up to 255 characters of 4 bytes in UTF-8 and
# an id, as base64 (about 1,420 characters). Every endpoint accepts cursors this long, and
# danhba's URL limit (core.longurl.URL_MAX) leaves room for one besides the other parameters,
# so a long cursor is a JSON 422, and a longer URL a JSON 414, never the web server's HTML.
CURSOR_MAX = 2048
# Largest value of a 64-bit primary key: a larger id in a cursor would overflow the database.
MAX_PK = 2**63 - 1
_INVALID = gettext_noop("The cursor is not valid; start again from the first page.")
BEFORE = "~"


class BadCursor(ServiceError):
    code = "bad_cursor"


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The page before this one; None on the first page.
    prev_cursor: str | None = None


def encode_cursor(values: list[Any], before: bool = False) -> str:
    """A cursor for the page after these values, or with ``before`` the page before them."""

    def conv(v: Any) -> Any:
        return {"dt": v.isoformat()} if isinstance(v, dt.datetime) else v

    # UTF-8, not \u escapes: a Vietnamese sort value makes a cursor half as long.
    raw = json.dumps([conv(v) for v in values], separators=(",", ":"), ensure_ascii=False).encode()
    return (BEFORE if before else "") + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def split_cursor(cursor: str | None) -> tuple[str | None, bool]:
    """(the cursor without its direction mark, whether it asks for the page before)."""
    if cursor and cursor.startswith(BEFORE):
        return cursor[len(BEFORE) :], True
    return cursor, False


def decode_cursor(cursor: str, size: int) -> list[Any]:
    """The values of a cursor made by :func:`encode_cursor`, or :class:`BadCursor` for anything a
    client could have tampered with (cursors travel through URLs)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise BadCursor(_(_INVALID)) from None
    if not isinstance(values, list) or len(values) != size:
        raise BadCursor(_(_INVALID))
    out: list[Any] = []
    for v in values:
        if isinstance(v, dict) and "dt" in v:
            try:
                when = dt.datetime.fromisoformat(str(v["dt"]))
                # Aware and representable in UTC, which is how the database compares it.
                if when.tzinfo is None:
                    raise ValueError("naive")
                when.astimezone(dt.UTC)
            except (ValueError, OverflowError):
                raise BadCursor(_(_INVALID)) from None
            out.append(when)
        elif (isinstance(v, str) and "\x00" not in v) or (isinstance(v, (int, float)) and not isinstance(v, bool)):
            out.append(v)
        else:
            raise BadCursor(_(_INVALID))
    return out


def cursor_pk(value: Any) -> int:
    """A primary key taken from a cursor, checked to be one the database can hold."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_PK:
        raise BadCursor(_(_INVALID))
    return value


def decode_keyset(cursor: str, qs: QuerySet[Any], column: str) -> tuple[Any, int]:
    """(sort value, id) from a cursor, the value converted by the sort column's field so a
    tampered cursor is a :class:`BadCursor`, not a database error."""
    value, pk = decode_cursor(cursor, 2)
    pk = cursor_pk(pk)
    try:
        model_field = qs.model._meta.get_field(column) if "__" not in column else None
    except FieldDoesNotExist:
        model_field = None
    if model_field is not None:
        try:
            value = model_field.to_python(value)
            if isinstance(value, dt.datetime):
                if value.tzinfo is None:
                    raise ValueError("naive")
                value.astimezone(dt.UTC)
        except (ValidationError, ValueError, TypeError, OverflowError):
            raise BadCursor(_(_INVALID)) from None
        if value is None or (isinstance(value, float) and value != value):
            raise BadCursor(_(_INVALID))
    return value, pk


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


def seek(
    qs: QuerySet[Any], column: str, cursor: str | None, limit: int, descending: bool = False, pk_column: str = "id"
) -> tuple[list[Any], bool, bool]:
    """Up to ``limit + 1`` rows of ``qs`` in (column, pk) order next to a cursor: after it, or
    before it for a "before" cursor (read backwards from the cursor, returned in page order).
    Returns (rows, backwards, had_cursor); more than ``limit`` rows means there are more."""
    raw, backwards = split_cursor(cursor)
    if raw:
        value, pk = decode_keyset(raw, qs, column)
        qs = qs.filter(after(column, value, pk_column, pk, descending != backwards))
    prefix = "-" if descending != backwards else ""
    rows = list(qs.order_by(f"{prefix}{column}", f"{prefix}{pk_column}")[: limit + 1])
    return (rows[::-1] if backwards else rows), backwards, bool(raw)


def seek_blanks_last(qs: QuerySet[Any], column: str, cursor: str | None, limit: int) -> tuple[list[Any], bool, bool]:
    """:func:`seek` in ascending (column, pk) order, except that rows whose ``column`` is blank
    come after all the others (contacts without a name last in name order): the non-blank range
    of the index, then the blank rows by id. A cursor on a blank row has the value ``""``."""
    filled, blank = qs.filter(**{f"{column}__gt": ""}), qs.filter(**{column: ""})
    raw, backwards = split_cursor(cursor)
    in_blanks = decode_keyset(raw, qs, column)[0] == "" if raw else False
    if not backwards:
        if in_blanks:
            return seek(blank, column, cursor, limit)
        rows, _back, had_cursor = seek(filled, column, cursor, limit)
        if len(rows) <= limit:
            rows += seek(blank, column, None, limit - len(rows))[0]
        return rows, False, had_cursor
    if not in_blanks:
        return seek(filled, column, cursor, limit)
    rows = seek(blank, column, cursor, limit)[0]
    if len(rows) <= limit:
        before = filled.order_by(f"-{column}", "-pk")[: limit + 1 - len(rows)]
        rows = [*reversed(list(before)), *rows]
    return rows, True, True


def page_of(rows: list[Any], limit: int, backwards: bool, had_cursor: bool, key: Any) -> Page[Any] | None:
    """The page made of rows from :func:`seek` (``key(row)`` gives its cursor values), or None
    when a backward read found no more than a page: that is the first page, which the caller
    reads afresh (rows may have come or gone since)."""
    if backwards:
        if len(rows) <= limit:
            return None
        items = rows[-limit:]
        return Page(items, encode_cursor(key(items[-1])), prev_cursor=encode_cursor(key(items[0]), before=True))
    items = rows[:limit]
    next_cursor = encode_cursor(key(items[-1])) if len(rows) > limit else None
    prev_cursor = encode_cursor(key(items[0]), before=True) if had_cursor and items else None
    return Page(items, next_cursor, prev_cursor=prev_cursor)


def paginate(qs: QuerySet[Any], column: str, cursor: str | None, limit: int, descending: bool = False) -> Page[Any]:
    """One page of ``qs`` ordered by (column, id), and the cursors of the pages after and before it."""
    rows, backwards, had_cursor = seek(qs, column, cursor, limit, descending)
    page = page_of(rows, limit, backwards, had_cursor, lambda row: [_attr(row, column), row.pk])
    return page if page is not None else paginate(qs, column, None, limit, descending)


def _attr(obj: Any, path: str) -> Any:
    for part in path.split("__"):
        obj = getattr(obj, part)
    return obj
