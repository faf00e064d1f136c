"""Writes of the segments app: segments and lists, and keeping their membership current.

How membership stays current:

1. Every write that can change what a segment sees about a contact — contact fields, tags,
   companies, consent, events, orders — ends in ``contacts.changes.contacts_changed`` in its own
   transaction with the contact ids and *why* (``field:province``, ``tags``, ``event:Order
   Completed``, ``orders``…); :func:`on_contacts_changed` listens (``apps.py``) and calls
   :func:`contacts_changed_by`. That inserts :class:`DirtyContact` rows (one per contact and
   reason, duplicates ignored) and, after the commit, wakes the worker. The rows are the work: a
   lost wake-up only delays it.
2. :func:`dirty_process` (the worker job, a minutely sweep, or inline with
   ``SEGMENTS_REFRESH_INLINE``) claims a batch of dirty rows (no other worker takes them until
   the claim's lease runs out), finds the dynamic segments whose
   dependencies (``Segment.depends_on``) meet the reasons, re-evaluates only those contacts against
   only those segments — one SQL query per segment with ``id IN (batch)`` — and writes the
   differences to :class:`SegmentMember` and the history :class:`SegmentChange`.
3. Conditions that depend on the passing of time ("in the last 30 days", birthdays) are
   re-evaluated by :func:`segments_refresh_due` on a schedule (``SEGMENTS_TIME_REFRESH_MINUTES``),
   and every segment gets a nightly full refresh as a safety net. :func:`segment_refresh`
   (also ``danhba segments refresh``) recomputes one segment from scratch.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from danhba.accounts import permissions as perms
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.contacts.changes import ANY_EVENT, EVERYTHING, ContactsChange
from danhba.contacts.models import Contact
from danhba.contacts.selectors import visible_contact_ids
from danhba.core import claims, formatting, jobs
from danhba.core.actor import Actor
from danhba.core.db import protected_references
from danhba.core.errors import Conflict, InvalidInput
from danhba.core.keyset import MAX_PK
from danhba.core.normalize import NormalizationError, clean_long_text, clean_text, normalize_email, normalize_phone
from danhba.segments import compiler
from danhba.segments import conditions as C
from danhba.segments.hooks import SEGMENT_CHANGED, MembershipChange
from danhba.segments.models import DirtyContact, Segment, SegmentChange, SegmentMember, SegmentSize, empty_tree

log = logging.getLogger(__name__)

# Rows per transaction of a big write (a full refresh): short enough that other writers wait
# well under a second for the database.
CHUNK = 5000
# Contacts re-evaluated per query by dirty_process.
DIRTY_BATCH = 2000
# How long a worker's claim on a batch of dirty rows holds; after that another worker takes the
# batch over (the first one died). A batch takes seconds.
DIRTY_LEASE = dt.timedelta(minutes=5)


@dataclass
class RefreshResult:
    entered: int
    left: int
    size: int


# --- segments --------------------------------------------------------------------------------


def _clean_name(name: Any, errors: dict[str, list[str]]) -> str:
    text = clean_text(name)
    if not text:
        errors.setdefault("name", []).append(_("A name is required."))
    elif len(text) > 200:
        errors.setdefault("name", []).append(_("At most 200 characters."))
    return text


def _apply_conditions(segment: Segment, tree: Any, actor: Actor) -> None:
    cleaned = C.clean(tree, user=actor.user, segment_id=segment.pk)
    segment.conditions = cleaned
    reasons, timed = C.dependencies(cleaned)
    segment.depends_on = {"reasons": reasons}
    segment.time_dependent = timed


def segment_create(
    *,
    actor: Actor,
    name: str,
    conditions: Any = None,
    kind: str = Segment.Kind.DYNAMIC,
    description: str = "",
) -> Segment:
    perms.require(actor, "segment", perms.CREATE)
    errors: dict[str, list[str]] = {}
    segment = Segment(
        name=_clean_name(name, errors),
        description=clean_long_text(description)[:5000],
        kind=kind,
        created_by=actor.user,
    )
    if kind not in Segment.Kind.values:
        errors.setdefault("kind", []).append(_("Must be dynamic or static."))
    if errors:
        raise InvalidInput(errors)
    if segment.kind == Segment.Kind.DYNAMIC:
        _apply_conditions(segment, conditions or empty_tree(), actor)
    with transaction.atomic():
        segment.save()
        audit_event(
            actor=actor,
            action=AuditEvent.Action.CREATE,
            object_type="segment",
            object_id=segment.pk,
            object_label=segment.name,
            changes={"name": [None, segment.name]} | _conditions_change(None, segment),
        )
        if segment.kind == Segment.Kind.DYNAMIC:
            _request_refresh(segment)
    return segment


def _conditions_change(before: Any, segment: Segment) -> dict[str, list[Any]]:
    """The conditions of a new dynamic segment for its audit row, as the tree (the audit log
    says it as a sentence in the reader's language: ``apps.py``); a static list has none."""
    return {} if segment.is_static else {"conditions": [before, segment.conditions]}


def segment_update(*, actor: Actor, segment: Segment, data: dict[str, Any]) -> Segment:
    perms.require(actor, "segment", perms.EDIT)
    errors: dict[str, list[str]] = {}
    # The tree, not its sentence: the audit log says it in each reader's language (apps.py).
    before = {"name": segment.name, "description": segment.description, "conditions": segment.conditions}
    if "name" in data:
        segment.name = _clean_name(data["name"], errors)
    if "description" in data:
        segment.description = clean_long_text(data["description"])[:5000]
    if errors:
        raise InvalidInput(errors)
    old_tree = segment.conditions
    if "conditions" in data:
        if segment.is_static:
            raise InvalidInput({"conditions": [_("A static list has no conditions.")]})
        _apply_conditions(segment, data["conditions"], actor)
    after = {"name": segment.name, "description": segment.description, "conditions": segment.conditions}
    with transaction.atomic():
        segment.updated_at = timezone.now()
        segment.save()
        changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
        if changes:
            audit_event(
                actor=actor,
                action=AuditEvent.Action.UPDATE,
                object_type="segment",
                object_id=segment.pk,
                object_label=segment.name,
                changes=changes,
            )
        if segment.conditions != old_tree:
            _request_refresh(segment)
            # Segments built on this one change with it.
            for dependent in dependents(segment):
                _request_refresh(dependent)
    return segment


def dependents(segment: Segment) -> list[Segment]:
    """Dynamic segments that refer to ``segment``, directly or through others."""
    found: list[Segment] = []
    for other in Segment.objects.filter(kind=Segment.Kind.DYNAMIC).exclude(pk=segment.pk):
        if segment.pk in C.referenced_segments(other.pk):
            found.append(other)
    return found


def segment_delete(*, actor: Actor, segment: Segment) -> None:
    perms.require(actor, "segment", perms.DELETE)
    users = dependents(segment)
    if users:
        raise Conflict(
            _("Segments use this one: %(names)s. Change them first.") % {"names": ", ".join(s.name for s in users)}
        )
    holders = protected_references(segment)
    if holders:
        raise Conflict(_("This segment is in use: %(names)s. Change them first.") % {"names": ", ".join(holders)})
    # Members and history go first, each chunk in a transaction of its own (a segment of
    # 400,000 contacts deleted in one held the database for minutes). Each chunk locks the
    # segment, so a refresh writing it waits for it (PostgreSQL), and keeps its size true.
    for model in (SegmentMember, SegmentChange):
        while True:
            with transaction.atomic():
                if not _lock(segment.pk):
                    return
                ids = list(model.objects.filter(segment_id=segment.pk).values_list("pk", flat=True)[:CHUNK])
                model.objects.filter(pk__in=ids).delete()
                if model is SegmentMember and ids:
                    size = SegmentMember.objects.filter(segment_id=segment.pk).count()
                    Segment.objects.filter(pk=segment.pk).update(member_count=size)
            if len(ids) < CHUNK:
                break
            _yield_to_writers()
    with transaction.atomic():
        # A refresh that comes after finds the segment gone (_lock); rows a live re-evaluation
        # added since the chunks went go with the segment.
        if not _lock(segment.pk):
            return
        audit_event(
            actor=actor,
            action=AuditEvent.Action.DELETE,
            object_type="segment",
            object_id=segment.pk,
            object_label=segment.name,
            changes={"name": [segment.name, None]},
        )
        segment.delete()


def _request_refresh(segment: Segment) -> None:
    """Recompute the membership now (small sites, tests) or in the worker (the page shows it)."""
    Segment.objects.filter(pk=segment.pk).update(refresh_requested_at=timezone.now(), refresh_error="")
    segment.refresh_requested_at = timezone.now()
    if settings.SEGMENTS_REFRESH_INLINE:
        result = segment_refresh(segment=segment)
        segment.refresh_from_db()
        del result
        return
    from danhba.segments.tasks import segment_refresh_job

    pk = segment.pk
    transaction.on_commit(lambda: segment_refresh_job(pk))


def segment_refresh_request(*, actor: Actor, segment: Segment) -> Segment:
    perms.require(actor, "segment", perms.VIEW)
    if segment.is_static:
        raise InvalidInput({"segment": [_("A static list is kept by hand; there is nothing to refresh.")]})
    with transaction.atomic():
        _request_refresh(segment)
    return segment


def segment_refresh(
    *, segment: Segment, via: str = SegmentChange.Via.REFRESH, now: dt.datetime | None = None
) -> RefreshResult:
    """Recompute a dynamic segment from scratch and record who entered and left.

    The matching ids and the current members are read outside any write transaction (a refresh
    of a large segment must not hold the write lock for its whole query). The contacts where
    they differ are then written in transactions of at most ``CHUNK`` contacts, each of which
    asks its own contacts again and updates the size: a reader always sees a size that matches
    the member rows, and other writers get the database between chunks. A contact re-evaluated
    live meanwhile (it has a history row newer than the start) keeps its live state."""
    if segment.is_static:
        return RefreshResult(0, 0, SegmentMember.objects.filter(segment=segment).count())
    started = timezone.now()
    now = now or started
    try:
        matched = set(compiler.matching(segment.conditions, now=now).values_list("pk", flat=True).iterator(CHUNK))
    except Exception as exc:
        Segment.objects.filter(pk=segment.pk).update(refresh_error=str(exc)[:2000], refresh_requested_at=None)
        raise
    current = set(SegmentMember.objects.filter(segment=segment).values_list("contact_id", flat=True).iterator(CHUNK))
    candidates = sorted(matched ^ current)
    chunks = [candidates[i : i + CHUNK] for i in range(0, len(candidates), CHUNK)] or [[]]
    entered = left = size = 0
    for number, chunk in enumerate(chunks, start=1):
        if number > 1:
            _yield_to_writers()
        with transaction.atomic():
            # One writer per segment at a time (PostgreSQL; SQLite writers queue anyway).
            if not _lock(segment.pk):
                return RefreshResult(0, 0, 0)
            came, went = _refresh_chunk(segment, chunk, started=started, via=via, at=now)
            entered, left = entered + came, left + went
            last = number == len(chunks)
            if number == 1 or last:
                size = SegmentMember.objects.filter(segment=segment).count()
                Segment.objects.filter(pk=segment.pk).update(member_count=size)
            else:
                size += came - went
                Segment.objects.filter(pk=segment.pk).update(member_count=F("member_count") + came - went)
            if last:
                Segment.objects.filter(pk=segment.pk).update(
                    refreshed_at=timezone.now(), refresh_requested_at=None, refresh_error=""
                )
                _size_record(segment.pk, size)
    segment.member_count = size
    return RefreshResult(entered, left, size)


def _refresh_chunk(
    segment: Segment, chunk: Sequence[int], *, started: dt.datetime, via: str, at: dt.datetime
) -> tuple[int, int]:
    """Write one chunk of a full refresh, inside its transaction. The chunk holds the contacts
    whose membership differed when the refresh read it; each is asked again now (a few thousand
    ids: a quick query), since a write may have moved it meanwhile without leaving a trace (a
    live re-evaluation that found nothing to change). Returns (entered, left)."""
    matched = set(compiler.matching(segment.conditions, now=at, among=chunk).values_list("pk", flat=True))
    current = set(
        SegmentMember.objects.filter(segment_id=segment.pk, contact_id__in=chunk).values_list("contact_id", flat=True)
    )
    touched = set(
        SegmentChange.objects.filter(segment_id=segment.pk, at__gte=started, contact_id__in=chunk).values_list(
            "contact_id", flat=True
        )
    )
    came = (matched - current) - touched
    went = (current - matched) - touched
    _write_changes(segment.pk, came, went, via=via, at=at)
    return len(came), len(went)


def _yield_to_writers() -> None:
    """Between two chunks of a long write (core.jobs.yield_to_writers; tests replace it)."""
    jobs.yield_to_writers()


def _lock(segment_id: int) -> bool:
    """Lock the segment's row for this transaction; False if it was deleted since the job read
    it (a refresh then DELETE a moment later): the job then writes nothing for it, as its
    members and history went with it."""
    if Segment.objects.select_for_update().filter(pk=segment_id).values_list("pk", flat=True).first() is not None:
        return True
    log.info("segment %s was deleted while being recomputed; nothing to write", segment_id)
    return False


def _write_changes(segment_id: int, entered: Iterable[int], left: Iterable[int], *, via: str, at: dt.datetime) -> None:
    entered, left = sorted(entered), sorted(left)
    for i in range(0, len(entered), CHUNK):
        chunk = entered[i : i + CHUNK]
        SegmentMember.objects.bulk_create(
            [SegmentMember(segment_id=segment_id, contact_id=c, since=at) for c in chunk], ignore_conflicts=True
        )
    for i in range(0, len(left), CHUNK):
        SegmentMember.objects.filter(segment_id=segment_id, contact_id__in=left[i : i + CHUNK]).delete()
    SegmentChange.objects.bulk_create(
        [SegmentChange(segment_id=segment_id, contact_id=c, entered=True, at=at, via=via) for c in entered]
        + [SegmentChange(segment_id=segment_id, contact_id=c, entered=False, at=at, via=via) for c in left],
        batch_size=CHUNK,
    )
    if entered or left:
        SEGMENT_CHANGED(MembershipChange(segment_id=segment_id, entered=tuple(entered), left=tuple(left), via=via))


def _size_record(segment_id: int, size: int) -> None:
    SegmentSize.objects.update_or_create(segment_id=segment_id, day=timezone.localdate(), defaults={"size": size})


def segments_refresh_all(*, time_dependent_only: bool = False, via: str = SegmentChange.Via.SCHEDULE) -> int:
    """Full refresh of every dynamic segment (or only those that time can change). Segments are
    independent (references are compiled inline), so the order does not matter."""
    segments = Segment.objects.filter(kind=Segment.Kind.DYNAMIC)
    if time_dependent_only:
        segments = segments.filter(time_dependent=True)
    done = 0
    for segment in segments.iterator():
        try:
            segment_refresh(segment=segment, via=via)
            done += 1
        except Exception:
            log.exception("refresh of segment %s failed", segment.pk)
    return done


def segments_refresh_requested(*, run: Callable[[Segment], object] | None = None) -> int:
    """Run the refreshes people asked for whose job was lost (the minutely sweep), or hand each
    segment to ``run`` (the sweep queues a job for it)."""
    stale = timezone.now() - dt.timedelta(minutes=2)
    done = 0
    for segment in Segment.objects.filter(kind=Segment.Kind.DYNAMIC, refresh_requested_at__lt=stale).iterator():
        if run is None:
            segment_refresh(segment=segment)
        else:
            run(segment)
        done += 1
    return done


# --- live membership -------------------------------------------------------------------------


def contacts_changed(*, contact_ids: Iterable[int], reasons: Iterable[str]) -> None:
    """Tell the segments that these contacts changed, and why. Call it inside the writing
    transaction: a rolled-back write leaves nothing to do."""
    why = {str(r)[:220] for r in reasons}
    contacts_changed_by(changes={int(c): why for c in contact_ids if c})


def contacts_changed_by(*, changes: dict[int, set[str]]) -> None:
    """:func:`contacts_changed` for contacts that changed for different reasons (the events of
    one request, by name): one check, one insert."""
    changes = {c: set(r) for c, r in changes.items() if c and r}
    if not changes or not _any_dynamic_segment():
        return
    if settings.SEGMENTS_REFRESH_INLINE:
        # Re-evaluate now, inside the writer's transaction: it sees its own writes, and a
        # rollback undoes the membership change with them.
        segments = list(Segment.objects.filter(kind=Segment.Kind.DYNAMIC))
        _evaluate(segments, changes, now=timezone.now())
        return
    # A row a worker is evaluating right now loses its claim: that evaluation may have read the
    # contact before this write, so the row stays for another one (dirty_process keeps it).
    keys = [(c, r) for c, why in changes.items() for r in why]
    claims.mark(DirtyContact, keys, unique_fields=("contact_id", "reason"))
    transaction.on_commit(_wake)


def on_contacts_changed(change: ContactsChange) -> None:
    """Listener of ``contacts.changed`` (``apps.py``): contacts about to be deleted leave their
    segments and lists; changed ones are re-evaluated for their reasons."""
    if change.deleted:
        contacts_deleting(contact_ids=change.deleted)
    if change.reasons:
        contacts_changed_by(changes={cid: set(why) for cid, why in change.reasons.items()})


def contacts_deleting(*, contact_ids: Sequence[int]) -> None:
    """Before contacts are deleted: take them out of their segments and lists so the sizes stay
    right (the history rows go with the contacts: they are personal data)."""
    ids = sorted(set(contact_ids))
    segment_ids = set(SegmentMember.objects.filter(contact_id__in=ids).values_list("segment_id", flat=True).distinct())
    if not segment_ids:
        return
    SegmentMember.objects.filter(contact_id__in=ids).delete()
    for segment_id in segment_ids:
        size = SegmentMember.objects.filter(segment_id=segment_id).count()
        Segment.objects.filter(pk=segment_id).update(member_count=size)
        _size_record(segment_id, size)


def _any_dynamic_segment() -> bool:
    return Segment.objects.filter(kind=Segment.Kind.DYNAMIC).exists()


def _wake() -> None:
    """Queue the worker after a writing commit (``core.jobs.wake_soon``)."""
    from danhba.segments.tasks import process_dirty_contacts

    jobs.wake_soon("dirty-contacts", process_dirty_contacts)


def _affected(segments: Sequence[Segment], reasons: set[str]) -> list[Segment]:
    if EVERYTHING in reasons:
        return list(segments)
    any_event = ANY_EVENT in reasons
    out = []
    for segment in segments:
        needs = set((segment.depends_on or {}).get("reasons", []))
        if needs & reasons or (any_event and any(n.startswith("event:") for n in needs)):
            out.append(segment)
    return out


def dirty_process(*, now: dt.datetime | None = None, max_batches: int | None = None) -> int:
    """Re-evaluate dirty contacts against the segments their changes can affect. Returns the
    number of contacts processed.

    Each batch is claimed first (:func:`_dirty_claim`), so two worker threads or machines never
    evaluate the same rows; a row is deleted afterwards only if it is still this call's claim."""
    done = 0
    batches = 0
    token = uuid.uuid4().hex
    segments = list(Segment.objects.filter(kind=Segment.Kind.DYNAMIC))
    while max_batches is None or batches < max_batches:
        rows = _dirty_claim(token=token, limit=DIRTY_BATCH)
        if not rows:
            break
        batches += 1
        reasons_of: dict[int, set[str]] = defaultdict(set)
        for _pk, contact_id, reason in rows:
            reasons_of[contact_id].add(reason)
        _evaluate(segments, reasons_of, now=now or timezone.now())
        _dirty_release(token=token, ids=[r[0] for r in rows])
        done += len(reasons_of)
    return done


def _dirty_claim(*, token: str, limit: int) -> list[tuple[int, int, str]]:
    """Claim the oldest unclaimed dirty rows (or those whose worker died) for ``DIRTY_LEASE``."""
    fields = ("id", "contact_id", "reason")
    return claims.claim(DirtyContact.objects.all(), token=token, lease=DIRTY_LEASE, limit=limit, fields=fields)


def _dirty_release(*, token: str, ids: Sequence[int]) -> None:
    """Delete the evaluated rows that are still ours (``core.claims.release``)."""
    claims.release(DirtyContact, token=token, ids=ids)


def _evaluate(segments: Sequence[Segment], reasons_of: dict[int, set[str]], *, now: dt.datetime) -> None:
    # Group contacts by the segments they can affect, so each segment runs one query.
    per_segment: dict[int, list[int]] = defaultdict(list)
    by_pk = {s.pk: s for s in segments}
    for contact_id, reasons in reasons_of.items():
        for segment in _affected(segments, reasons):
            per_segment[segment.pk].append(contact_id)
    for segment_pk, ids in per_segment.items():
        segment = by_pk[segment_pk]
        try:
            matched = set(compiler.matching(segment.conditions, now=now, among=ids).values_list("pk", flat=True))
        except Exception:
            log.exception("segment %s could not be evaluated", segment_pk)
            continue
        with transaction.atomic():
            # One writer per segment at a time, so two workers re-evaluating one contact never
            # both record its entry.
            if not _lock(segment_pk):
                continue
            current = set(
                SegmentMember.objects.filter(segment_id=segment_pk, contact_id__in=ids).values_list(
                    "contact_id", flat=True
                )
            )
            # A deleted contact leaves through the cascade, not here.
            existing = set(Contact.objects.filter(pk__in=ids).values_list("pk", flat=True))
            entered = (matched - current) & existing
            left = current - matched
            if not entered and not left:
                continue
            _write_changes(segment_pk, entered, left, via=SegmentChange.Via.LIVE, at=timezone.now())
            size = SegmentMember.objects.filter(segment_id=segment_pk).count()
            Segment.objects.filter(pk=segment_pk).update(member_count=size)
            _size_record(segment_pk, size)


# --- static lists ----------------------------------------------------------------------------


def _static(segment: Segment) -> None:
    if not segment.is_static:
        raise InvalidInput({"segment": [_("Members can be added and removed only in a static list.")]})


def _visible_ids(actor: Actor, contact_ids: Iterable[Any]) -> list[int]:
    return visible_contact_ids(actor.user, contact_ids)


def list_add(*, actor: Actor, segment: Segment, contact_ids: Iterable[Any], via: str = SegmentChange.Via.MANUAL) -> int:
    """Add contacts to a static list; returns how many were not already in it."""
    perms.require(actor, "segment", perms.EDIT)
    _static(segment)
    ids = _visible_ids(actor, contact_ids)
    with transaction.atomic():
        present = set(
            SegmentMember.objects.filter(segment=segment, contact_id__in=ids).values_list("contact_id", flat=True)
        )
        new = [c for c in ids if c not in present]
        _write_changes(segment.pk, new, [], via=via, at=timezone.now())
        _after_list_change(segment, new)
    return len(new)


def list_remove(
    *, actor: Actor, segment: Segment, contact_ids: Iterable[Any], via: str = SegmentChange.Via.MANUAL
) -> int:
    perms.require(actor, "segment", perms.EDIT)
    _static(segment)
    ids = _visible_ids(actor, contact_ids)
    with transaction.atomic():
        present = sorted(
            SegmentMember.objects.filter(segment=segment, contact_id__in=ids).values_list("contact_id", flat=True)
        )
        _write_changes(segment.pk, [], present, via=via, at=timezone.now())
        _after_list_change(segment, present)
    return len(present)


def _after_list_change(segment: Segment, contact_ids: Sequence[int]) -> None:
    size = SegmentMember.objects.filter(segment=segment).count()
    Segment.objects.filter(pk=segment.pk).update(member_count=size, updated_at=timezone.now())
    segment.member_count = size
    _size_record(segment.pk, size)
    # Segments that use this list see its change like any other.
    contacts_changed(contact_ids=contact_ids, reasons=[f"list:{segment.pk}"])


def members_add(*, segment_id: int, contact_ids: Sequence[int], via: str) -> int:
    """Add contacts to a static list for a caller that checked the permission (an import)."""
    present = set(
        SegmentMember.objects.filter(segment_id=segment_id, contact_id__in=list(contact_ids)).values_list(
            "contact_id", flat=True
        )
    )
    new = [c for c in contact_ids if c not in present]
    if new:
        _write_changes(segment_id, new, [], via=via, at=timezone.now())
        segment = Segment.objects.get(pk=segment_id)
        _after_list_change(segment, new)
    return len(new)


def _line_key(value: str) -> tuple[str, Any]:
    """(kind, key) of one pasted line. A contact id must be written ``#999``: a bare number is
    a phone number (pasted "0999" once silently added contact #999). Raises NormalizationError."""
    if value.startswith("#"):
        digits = value[1:].strip()
        if digits.isascii() and digits.isdigit() and 0 < int(digits) <= MAX_PK:
            return "id", int(digits)
        raise NormalizationError(gettext_noop("not a contact id (write it as #999)"))
    if "@" in value:
        return "email", normalize_email(value)
    try:
        return "phone", normalize_phone(value).e164
    except NormalizationError as exc:
        if value.isdigit():
            # Most likely a contact id typed bare: say how to write one.
            hint = {"reason": exc, "value": value.lstrip("0") or value}
            raise NormalizationError(gettext_noop("%(reason)s; a contact id is written #%(value)s"), hint) from exc
        raise


def list_add_by_keys(*, actor: Actor, segment: Segment, lines: Sequence[str]) -> tuple[int, list[tuple[int, str, str]]]:
    """Add the contacts named one per line by email, phone or contact id (``#999``). Returns the
    number added and, for each line that matched nobody, (line number, value, reason)."""
    from danhba.contacts.models import ContactEmail, ContactPhone

    perms.require(actor, "segment", perms.EDIT)
    _static(segment)
    if len(lines) > 100_000:
        raise InvalidInput({"file": [_("At most 100,000 lines at a time.")]})
    visible = Contact.objects.all() if actor.user is None else Contact.objects.visible_to(actor.user)
    unmatched: list[tuple[int, str, str]] = []
    # Each line's key, then one IN query per kind and chunk: a 100,000-line file is a few
    # dozen queries, not 100,000.
    keyed: list[tuple[int, str, str, Any]] = []  # (line, value, kind, key)
    for number, raw in enumerate(lines, start=1):
        value = clean_text(raw).strip(",;\"'")
        if not value:
            continue
        try:
            keyed.append((number, value, *_line_key(value)))
        except NormalizationError as exc:
            unmatched.append((number, value, str(exc)))
    owners: dict[tuple[str, Any], set[int]] = defaultdict(set)
    lookups = {
        "id": lambda keys: visible.filter(pk__in=keys).values_list("pk", "pk"),
        "email": lambda keys: ContactEmail.objects.filter(email__in=keys, contact__in=visible).values_list(
            "email", "contact_id"
        ),
        "phone": lambda keys: ContactPhone.objects.filter(e164__in=keys, contact__in=visible).values_list(
            "e164", "contact_id"
        ),
    }
    for kind, lookup in lookups.items():
        keys = sorted({key for _n, _v, k, key in keyed if k == kind})
        for i in range(0, len(keys), 500):
            for key, contact_id in lookup(keys[i : i + 500]):
                owners[(kind, key)].add(contact_id)
    found: set[int] = set()
    for number, value, kind, key in keyed:
        ids = owners.get((kind, key))
        if ids:
            found.update(ids)
        else:
            unmatched.append((number, value, _("no contact you can see has it")))
    unmatched.sort()
    added = (
        list_add(actor=actor, segment=segment, contact_ids=sorted(found), via=SegmentChange.Via.IMPORT) if found else 0
    )
    return added, unmatched


def list_snapshot(*, actor: Actor, segment: Segment, name: str) -> Segment:
    """A new static list holding the segment's current members."""
    perms.require(actor, "segment", perms.CREATE)
    with transaction.atomic():
        target = segment_create(
            actor=actor,
            name=name,
            kind=Segment.Kind.STATIC,
            description=_("Snapshot of “%(name)s” taken %(when)s")
            % {"name": segment.name, "when": formatting.moment(timezone.now())},
        )
        members = SegmentMember.objects.filter(segment=segment)
        if actor.user is not None:
            from danhba.contacts.selectors import visibility_q

            vis = visibility_q(actor.user, "contact__")
            if vis is not None:
                members = members.filter(vis)
        ids = list(members.values_list("contact_id", flat=True).iterator(CHUNK))
        _write_changes(target.pk, ids, [], via=SegmentChange.Via.SNAPSHOT, at=timezone.now())
        size = len(ids)
        Segment.objects.filter(pk=target.pk).update(member_count=size, refreshed_at=timezone.now())
        target.member_count = size
        _size_record(target.pk, size)
    return target


def is_member(*, segment: Segment, contact_id: int) -> bool:
    return SegmentMember.objects.filter(segment=segment, contact_id=contact_id).exists()
