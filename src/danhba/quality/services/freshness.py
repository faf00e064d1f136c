"""Freshness and decay signals of contacts: computed in batches by the worker, from what the
apps below record, and kept in ``Freshness`` / ``DecaySignal`` (``models/freshness.py``).

1. Every contact write ends in ``contacts.changed``; :func:`on_contacts_changed` marks the
   contacts in ``FreshnessDirty`` (one upsert per write) and wakes the worker after the commit,
   or, with ``QUALITY_INLINE`` (tiny sites, some tests), computes them at once.
2. :func:`dirty_process` claims a batch (``core.claims``) and calls :func:`freshness_update`:
   a handful of queries per batch of 500 (``id IN batch``), whatever the batch holds.
3. What changes with time alone (inactivity) or outside contact writes (an MX answer, an
   import's changes read later) is re-marked by the jobs in ``tasks.py``.

A contact whose signals or bucket changed is announced with ``contacts_changed`` and the reason
``quality``, so segments (the ``quality`` condition) and workflows follow; this module ignores
changes whose only reasons are its own or scores'."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from danhba.contacts.changes import ContactsChange, contacts_changed
from danhba.contacts.models import Company, Contact, ContactCompany, ContactPhone
from danhba.core import bulk, claims, jobs
from danhba.core.bulk import read_json, read_moment
from danhba.ingest.models import ImportChange
from danhba.orders.models import PurchaseStats
from danhba.quality import decay
from danhba.quality.models import DecaySignal, Freshness, FreshnessDirty, ImportSignal, MailDomain, QualityState
from danhba.tracking.models import Event
from danhba.tracking.spec import EMAIL_BOUNCED, EMAIL_SENT

BATCH = 500
LEASE = dt.timedelta(minutes=5)
REASON = "quality"
# Events that say nothing about the person being there: what danhba itself sent, and bounces.
PASSIVE_EVENTS = (EMAIL_SENT, EMAIL_BOUNCED)
K = DecaySignal.Kind


def _own(reasons: Iterable[str]) -> bool:
    return all(r == REASON or r.startswith("score:") for r in reasons)


def on_contacts_changed(change: ContactsChange) -> None:
    """Listener of ``contacts.changed`` (``apps.py``)."""
    gone = set(change.deleted)
    ids = [c for c in change.created if c not in gone]
    ids += [c for c, why in change.reasons.items() if c not in gone and not _own(why)]
    ids += [c for c in change.updated if c not in gone and c not in change.reasons]
    freshness_mark(contact_ids=ids)


def freshness_mark(*, contact_ids: Iterable[int]) -> None:
    """Have these contacts' freshness computed again: at once with ``QUALITY_INLINE``, else by
    the worker after the commit."""
    ids = sorted({int(c) for c in contact_ids if c})
    if not ids:
        return
    if settings.QUALITY_INLINE:
        freshness_update(contact_ids=ids)
        return
    claims.mark(FreshnessDirty, ids)
    transaction.on_commit(_wake)


def _wake() -> None:
    from danhba.quality.tasks import process_freshness_dirty

    jobs.wake_soon("freshness-dirty", process_freshness_dirty)


def dirty_process(*, now: dt.datetime | None = None, max_batches: int | None = None, batch: int = BATCH) -> int:
    """Compute the freshness of marked contacts; returns how many."""
    token = uuid.uuid4().hex
    done = batches = 0
    while max_batches is None or batches < max_batches:
        rows = claims.claim(
            FreshnessDirty.objects.all(), token=token, lease=LEASE, limit=batch, fields=("id", "contact_id")
        )
        if not rows:
            break
        batches += 1
        freshness_update(contact_ids=[r[1] for r in rows], now=now)
        claims.release(FreshnessDirty, token=token, ids=[r[0] for r in rows])
        done += len(rows)
    return done


# --- computing a batch -----------------------------------------------------------------------


def _reasons(value: Any) -> list[str]:
    return list(read_json(value) or [])


@dataclass
class _Current:
    """A contact's freshness row as this module reads it."""

    verified_at: dt.datetime | None
    verified_by: str
    seen_at: dt.datetime
    reasons: list[str]


class _Batch:
    """What the tables below say about a batch of contacts: one query each. Raw statements
    (``core.bulk.select_in``) for the tables every batch reads: the worker computes a batch
    after each stored group of events, and the ORM's ``id IN`` lookups of 500 values, its model
    objects and its conversions cost more than the queries (decision 0007, 2026-12-07 session 2)."""

    def __init__(self, ids: list[int], now: dt.datetime) -> None:
        self.now = now
        self.contacts = {
            cid: (cid, email, read_moment(own))
            for cid, email, own in sorted(bulk.select_in(Contact, ["id", "email", "last_activity_at"], "id", ids))
        }
        ids = sorted(self.contacts)
        self.current = {
            cid: _Current(read_moment(verified_at), verified_by, read_moment(seen_at) or now, _reasons(reasons))
            for cid, verified_at, verified_by, seen_at, reasons in bulk.select_in(
                Freshness, ["contact_id", "verified_at", "verified_by", "seen_at", "reasons"], "contact_id", ids
            )
        }
        self.events = _latest_events(ids)
        self.orders = {
            cid: at
            for cid, at in (
                (cid, read_moment(at))
                for cid, at in bulk.select_in(PurchaseStats, ["contact_id", "last_order_at"], "contact_id", ids)
            )
            if at is not None
        }
        self.bounces: dict[int, dt.datetime] = {}
        for cid, at, properties in bulk.select_in(
            Event, ["contact_id", "timestamp", "properties"], "contact_id", ids, where={"name": EMAIL_BOUNCED}
        ):
            properties = read_json(properties)
            if isinstance(properties, dict) and properties.get("bounce_type") == "hard":
                when = read_moment(at)
                if when is not None and (cid not in self.bounces or when > self.bounces[cid]):
                    self.bounces[cid] = when
        self.phones: dict[int, list[str]] = defaultdict(list)
        for cid, e164 in bulk.select_in(ContactPhone, ["contact_id", "e164"], "contact_id", ids, order_by="id"):
            self.phones[cid].append(e164)
        self.domains = _domains({decay.email_domain(c[1]) for c in self.contacts.values() if c[1]})
        self.imports: dict[int, list[ImportSignal]] = defaultdict(list)
        # Rare rows: a raw look first, the ORM only for the contacts that have some.
        with_signals = sorted({cid for (cid,) in bulk.select_in(ImportSignal, ["contact_id"], "contact_id", ids)})
        for s in (
            ImportSignal.objects.filter(contact_id__in=with_signals).order_by("seen_at", "pk") if with_signals else ()
        ):
            self.imports[s.contact_id].append(s)

    def signals(self, cid: int, verified: dt.datetime | None, seen: dt.datetime) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        email = self.contacts[cid][1]
        bounced = self.bounces.get(cid)
        if bounced is not None and (verified is None or bounced > verified):
            out[K.BOUNCED] = {"email": email, "at": bounced.isoformat()}
        if email and self.domains.get(decay.email_domain(email)) is False:
            out[K.NO_MAIL_SERVER] = {"email": email, "domain": decay.email_domain(email)}
        for e164 in self.phones.get(cid, ()):
            problem = decay.phone_problem(e164)
            if problem is not None and problem not in out:
                out[problem] = {"phone": e164}
        if seen < decay.months_ago(self.now, settings.QUALITY_INACTIVE_MONTHS):
            out[K.INACTIVE] = {"since": seen.isoformat(), "months": settings.QUALITY_INACTIVE_MONTHS}
        for s in self.imports.get(cid, ()):
            if verified is None or s.seen_at > verified:
                out[s.kind] = {"before": s.before, "after": s.after, "import": s.import_id}
        return out


def _latest_events(ids: list[int]) -> dict[int, dt.datetime]:
    """The newest event of each contact, the passive ones left out (the ``event_contact_time``
    index answers it)."""
    quote = connection.ops.quote_name
    table = quote(Event._meta.db_table)
    passive = ", ".join(["%s"] * len(PASSIVE_EVENTS))
    found: dict[int, dt.datetime] = {}
    with connection.cursor() as cursor:
        for chunk in bulk.chunks(ids):
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"SELECT contact_id, MAX(timestamp) FROM {table} WHERE contact_id IN ({marks}) "  # noqa: S608
                f"AND name NOT IN ({passive}) GROUP BY contact_id",
                [*chunk, *PASSIVE_EVENTS],
            )
            found.update((cid, read_moment(at)) for cid, at in cursor.fetchall())  # type: ignore[misc]
    return found


def _domains(domains: set[str]) -> dict[str, bool | None]:
    """The cached MX answers of these domains; a domain never seen is added for the MX job."""
    domains.discard("")
    known = dict(MailDomain.objects.filter(domain__in=domains).values_list("domain", "has_mail"))
    missing = domains - known.keys()
    if missing:
        MailDomain.objects.bulk_create([MailDomain(domain=d[:253]) for d in sorted(missing)], ignore_conflicts=True)
    return known


def freshness_update(*, contact_ids: Sequence[int], now: dt.datetime | None = None) -> list[int]:
    """Compute the freshness and signals of these contacts; returns those whose verification
    state or bucket changed (announced with the reason ``quality``)."""
    now = now or timezone.now()
    changed: list[int] = []
    with transaction.atomic():
        b = _Batch(sorted({int(c) for c in contact_ids}), now)
        rows: list[tuple[Any, ...]] = []
        wanted: dict[int, dict[str, dict[str, Any]]] = {}
        for cid, (_pk, _email, own) in b.contacts.items():
            old = b.current.get(cid)
            verified = old.verified_at if old else None
            activity = max(t for t in (own, b.events.get(cid), b.orders.get(cid)) if t is not None)
            seen = max(activity, verified) if verified else activity
            wanted[cid] = b.signals(cid, verified, seen)
            reasons = sorted(wanted[cid])
            verified_by = old.verified_by if old else ""
            rows.append((cid, verified, verified_by, activity, seen, bool(reasons), reasons, now))
            if old is None or old.reasons != reasons or decay.bucket_of(old.seen_at, now) != decay.bucket_of(seen, now):
                changed.append(cid)
        _freshness_write(rows)
        _signals_write(wanted, now)
        if changed:
            contacts_changed(reasons={c: [REASON] for c in changed})
    return changed


_COLUMNS = ("contact_id", "verified_at", "verified_by", "last_activity_at", "seen_at", "needs_verification",
            "reasons", "computed_at")  # fmt: skip
_UPDATED = ("last_activity_at", "seen_at", "needs_verification", "reasons", "computed_at")


def _freshness_write(rows: list[tuple[Any, ...]]) -> None:
    """Upsert the rows (``_COLUMNS``, in contact order): a raw ``INSERT … ON CONFLICT`` with the
    values adapted as ``core.bulk`` adapts them, what ``bulk_create(update_conflicts=True)`` wrote
    at several times the cost (it prepared 8 values through each field)."""
    if not rows:
        return
    when = bulk.datetime_adapter()
    as_json = bulk.json_adapter(Freshness._meta.get_field("reasons"))
    quote = connection.ops.quote_name
    columns = ", ".join(quote(c) for c in _COLUMNS)
    updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in _UPDATED)
    one = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
    with connection.cursor() as cursor:
        for chunk in bulk.chunks(rows, 100):
            cursor.execute(
                f"INSERT INTO {quote(Freshness._meta.db_table)} ({columns}) VALUES {', '.join([one] * len(chunk))} "  # noqa: S608
                f"ON CONFLICT ({quote('contact_id')}) DO UPDATE SET {updates}",
                [value for cid, verified, by, activity, seen, needs, reasons, at in chunk
                 for value in (cid, when(verified), by, when(activity), when(seen), needs, as_json(reasons), when(at))],
            )  # fmt: skip


def _signals_write(wanted: dict[int, dict[str, dict[str, Any]]], now: dt.datetime) -> None:
    """Make each contact's DecaySignal rows those of ``wanted``: a signal still there keeps its
    first ``seen_at`` (its detail follows the evidence)."""
    have: dict[tuple[int, str], tuple[int, Any]] = {
        (c, k): (pk, read_json(detail))
        for pk, c, k, detail in bulk.select_in(
            DecaySignal, ["id", "contact_id", "kind", "detail"], "contact_id", wanted
        )
    }
    gone = [pk for (c, k), (pk, _d) in have.items() if k not in wanted[c]]
    if gone:
        DecaySignal.objects.filter(pk__in=gone).delete()
    new = []
    for c, signals in wanted.items():
        for k, detail in signals.items():
            if (c, k) not in have:
                new.append(DecaySignal(contact_id=c, kind=k, detail=detail, seen_at=now))
            elif have[(c, k)][1] != detail:
                DecaySignal.objects.filter(pk=have[(c, k)][0]).update(detail=detail)
    DecaySignal.objects.bulk_create(new, batch_size=1000)


# --- what changes outside contact writes ----------------------------------------------------


def time_mark(*, now: dt.datetime | None = None) -> int:
    """Mark the contacts whose data crossed a bucket boundary or the inactivity limit in the
    last two days (one range of the ``seen_at`` index per boundary), and contacts without a
    freshness row yet (created before the app, or by a writer that skipped the hook)."""
    now = now or timezone.now()
    months = {b.min_months for b in decay.BUCKETS if b.min_months} | {settings.QUALITY_INACTIVE_MONTHS}
    ids: set[int] = set()
    for m in months:
        edge = decay.months_ago(now, m)
        ids.update(
            Freshness.objects.filter(seen_at__gte=edge - dt.timedelta(days=2), seen_at__lt=edge).values_list(
                "contact_id", flat=True
            )
        )
    freshness_mark(contact_ids=ids)
    return len(ids) + missing_mark()


def missing_mark(*, limit: int = 50_000) -> int:
    """Contacts that have no freshness row: marked, ``limit`` at a time."""
    ids = list(Contact.objects.filter(freshness__isnull=True).values_list("pk", flat=True)[:limit])
    freshness_mark(contact_ids=ids)
    return len(ids)


def import_signals_scan(*, limit: int = 5000) -> int:
    """Read the import changes after the cursor: a job title overwritten, or a company added to
    a contact that had another, becomes an ``ImportSignal`` and the contact is marked."""
    state, _created = QualityState.objects.get_or_create(key="import-changes", defaults={"value": {"after": 0}})
    after = int(state.value.get("after", 0))
    rows = list(
        ImportChange.objects.filter(pk__gt=after, action=ImportChange.Action.UPDATED)
        .order_by("pk")
        .values_list("pk", "run_id", "contact_id", "before", "after", "added")[:limit]
    )
    if not rows:
        return 0
    with_company = _company_counts([r[2] for r in rows if (r[5] or {}).get("companies")])
    found: list[ImportSignal] = []
    for _pk, run_id, cid, before, later, added in rows:
        old_title = (before or {}).get("job_title") or ""
        if old_title and old_title != (later or {}).get("job_title"):
            found.append(_import_signal(cid, K.JOB_CHANGE, run_id, old_title, (later or {}).get("job_title") or ""))
        new_companies = (added or {}).get("companies") or []
        if new_companies and with_company.get(cid, 0) > len(new_companies):
            found.append(_import_signal(cid, K.COMPANY_CHANGE, run_id, "", _company_name(new_companies[-1])))
    with transaction.atomic():
        existing = set(Contact.objects.filter(pk__in={s.contact_id for s in found}).values_list("pk", flat=True))
        ImportSignal.objects.bulk_create([s for s in found if s.contact_id in existing])
        state.value = {"after": rows[-1][0]}
        state.save(update_fields=["value"])
        freshness_mark(contact_ids=existing)
    return len(rows)


def _import_signal(cid: int, kind: str, run_id: int, before: Any, after: Any) -> ImportSignal:
    return ImportSignal(contact_id=cid, kind=kind, import_id=run_id, before=str(before)[:200], after=str(after)[:200])


def _company_counts(ids: list[int]) -> dict[int, int]:
    counts: dict[int, int] = defaultdict(int)
    for cid in ContactCompany.objects.filter(contact_id__in=ids).values_list("contact_id", flat=True):
        counts[cid] += 1
    return counts


def _company_name(company_id: Any) -> str:
    return Company.objects.filter(pk=company_id).values_list("name", flat=True).first() or ""
