"""Reads of the segments app for the pages and the API: segments with the sizes a user may see,
members and history one keyset page at a time (only contacts inside the user's record
visibility), a live preview of a condition tree, and the size over time for the charts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django import forms
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from danhba.accounts import permissions as perms
from danhba.accounts.models import User
from danhba.contacts.models import Contact
from danhba.contacts.selectors import is_id, member_q, visibility_q
from danhba.core.errors import InvalidInput, NotFound, PermissionDenied
from danhba.core.keyset import Page, paginate
from danhba.core.normalize import clean_text
from danhba.segments import compiler
from danhba.segments import conditions as C
from danhba.segments.models import Segment, SegmentChange, SegmentMember, SegmentSize

MAX_LIMIT = 200
# Counts shown on pages stop here (a page load never counts a million rows twice over).
COUNT_CAP = 100_000
SAMPLE = 10


def segment_get(pk: int, user: User | None = None) -> Segment:
    """A segment, for ``user`` only if its conditions use nothing their role may not see."""
    segment = Segment.objects.filter(pk=pk).select_related("created_by").first()
    if segment is None:
        raise NotFound(_("No such segment or list."))
    if user is not None and not segment.is_static and C.hidden_from(segment.conditions, user):
        raise PermissionDenied(_("This segment uses data your role may not see."))
    return segment


def visible_segments(segments: list[Segment], user: User) -> list[Segment]:
    """The segments of a page that ``user`` may see (see :func:`segment_get`)."""
    shown = C.fields(user)
    return [s for s in segments if s.is_static or not C.hidden_from(s.conditions, user, shown)]


def segment_page(cursor: str | None = None, limit: int = 50, kind: str = "") -> Page[Segment]:
    """Segments and lists by name. Segments are not records of anyone: every role that may view
    segments sees all of them (their members are filtered per user)."""
    qs = Segment.objects.all()
    if kind in Segment.Kind.values:
        qs = qs.filter(kind=kind)
    return paginate(qs, "name", cursor, max(1, min(limit, MAX_LIMIT)))


def _members(segment_ids: Iterable[int] | int, user: User) -> QuerySet[SegmentMember]:
    ids = [segment_ids] if isinstance(segment_ids, int) else list(segment_ids)
    qs = SegmentMember.objects.filter(segment_id__in=ids)
    vis = visibility_q(user, "contact__")
    return qs.filter(vis) if vis is not None else qs


def sees_everyone(user: User) -> bool:
    return visibility_q(user) is None


def visible_count(segment: Segment, user: User, cap: int | None = COUNT_CAP) -> tuple[int, bool]:
    """How many members of ``segment`` the user may see: (n, capped). A user who sees every
    contact reads the stored size; others count their part (up to ``cap``)."""
    if sees_everyone(user):
        return segment.member_count, False
    qs = _members(segment.pk, user).order_by().values("pk")
    if cap is None:
        return qs.count(), False
    n = qs[: cap + 1].count()
    return min(n, cap), n > cap


def visible_counts(segments: list[Segment], user: User) -> dict[int, tuple[int, bool]]:
    return {s.pk: visible_count(s, user, cap=10_000) for s in segments}


def member_page(
    segment: Segment, user: User, cursor: str | None = None, limit: int = 50, order: str = "name"
) -> Page[Contact]:
    """Members the user may see, by name (pages) or by contact id (the API), keyset-paged. Each
    contact carries ``member_since``."""
    qs = Contact.objects.filter(segment_memberships__segment=segment).select_related("lifecycle_stage", "owner")
    vis = visibility_q(user)
    if vis is not None:
        qs = qs.filter(vis)
    qs = qs.annotate(member_since=_since(segment))
    column = "id" if order == "id" else "name_key"
    return paginate(qs, column, cursor, max(1, min(limit, MAX_LIMIT)))


def _since(segment: Segment) -> Any:
    return Subquery(SegmentMember.objects.filter(segment=segment, contact_id=OuterRef("pk")).values("since")[:1])


def membership(segment: Segment, user: User, contact_id: int) -> SegmentMember | None:
    """The membership row of a contact the user may see (NotFound for any other contact)."""
    if not Contact.objects.visible_to(user).filter(pk=contact_id).exists():
        raise NotFound(_("No such contact."))
    return SegmentMember.objects.filter(segment=segment, contact_id=contact_id).first()


def history_page(segment: Segment, user: User, cursor: str | None = None, limit: int = 50) -> Page[SegmentChange]:
    """Who entered and left, newest first, for contacts the user may see."""
    qs = SegmentChange.objects.filter(segment=segment).select_related("contact")
    vis = visibility_q(user, "contact__")
    if vis is not None:
        qs = qs.filter(vis)
    return paginate(qs, "at", cursor, max(1, min(limit, MAX_LIMIT)), descending=True)


@dataclass
class Preview:
    count: int
    capped: bool
    sample: list[Contact]
    text: str


def preview(
    tree: dict[str, Any], user: User, now: dt.datetime | None = None, cap: int = COUNT_CAP, sample: int = SAMPLE
) -> Preview:
    """What a checked tree matches now among the contacts the user may see: the count (up to
    ``cap``), the first ``sample`` by name, and the tree as a sentence."""
    qs = compiler.matching(tree, now=now)
    vis = visibility_q(user)
    if vis is not None:
        qs = qs.filter(vis)
    n = qs.order_by().values("pk")[: cap + 1].count()
    rows = list(qs.select_related("lifecycle_stage").order_by("name_key", "pk")[:sample])
    return Preview(min(n, cap), n > cap, rows, C.describe(tree))


@dataclass
class SizePoint:
    day: dt.date
    size: int


def size_series(segment_ids: list[int], days: int = 30, today: dt.date | None = None) -> dict[int, list[SizePoint]]:
    """Size per day over the last ``days`` days (today included) for each segment. Sizes are
    stored only for days the size changed; a day without a row has the size of the last day
    before it (0 before the first)."""
    today = today or timezone.localdate()
    start = today - dt.timedelta(days=days - 1)
    series: dict[int, list[SizePoint]] = {}
    if not segment_ids:
        return series
    rows: dict[int, dict[dt.date, int]] = {pk: {} for pk in segment_ids}
    for seg, day, size in SegmentSize.objects.filter(
        segment_id__in=segment_ids, day__gte=start, day__lte=today
    ).values_list("segment_id", "day", "size"):
        rows[seg][day] = size
    for pk in segment_ids:
        before = (
            SegmentSize.objects.filter(segment_id=pk, day__lt=start)
            .order_by("-day")
            .values_list("size", flat=True)
            .first()
        )
        current = before or 0
        points = []
        for i in range(days):
            day = start + dt.timedelta(days=i)
            current = rows[pk].get(day, current)
            points.append(SizePoint(day, current))
        series[pk] = points
    return series


def segment_choices() -> list[tuple[str, str]]:
    """Segments and lists as (id, label) for pickers (the contact list filter, the builder)."""
    out = []
    for pk, name, kind in Segment.objects.order_by("name", "pk").values_list("pk", "name", "kind")[:1000]:
        suffix = _("list") if kind == Segment.Kind.STATIC else _("segment")
        out.append((str(pk), f"{name} ({suffix})"))
    return out


# --- the contact list's segment filter (contacts.extensions.CONTACT_LIST_FILTERS) ----------


def segment_filter_parse(params: Mapping[str, Any], errors: dict[str, list[str]]) -> int | None:
    """``segment``: the id of a segment or list whose members the list shows."""
    raw = clean_text(params.get("segment"))
    if not raw:
        return None
    if is_id(raw):
        return int(raw)
    errors["segment"] = [_("a segment or list id")]
    return None


def segment_filter_q(segment_id: int, user: User, prefix: str) -> Q:
    """Members of a segment or static list, for roles that may see segments."""
    if not user.can("segment", perms.VIEW):
        raise InvalidInput({"segment": [_("your role may not see segments")]}, _("Some filters are not valid."))
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        raise InvalidInput({"segment": [_("no such segment or list")]}, _("Some filters are not valid."))
    if not segment.is_static and C.hidden_from(segment.conditions, user):
        raise InvalidInput(
            {"segment": [_("This segment uses data your role may not see.")]}, _("Some filters are not valid.")
        )
    return member_q(SegmentMember.objects.filter(segment_id=segment_id), prefix)


def segment_filter_fields(user: User | None) -> dict[str, forms.Field]:
    """The filter form's segment picker, for roles that may see segments."""
    if user is None or not user.can("segment", "view"):
        return {}
    field = forms.ChoiceField(label=gettext_lazy("Segment or list"), required=False)
    field.choices = [("", "—"), *segment_choices()]
    return {"segment": field}
