"""Reads of the quality app that pages, the API and other apps' hooks share: where a merged-away
contact went, the contact list's ``quality`` and ``missing`` filters (the links behind every
number of the dashboard), a contact's freshness for its panel and the API, cleaning runs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from django import forms
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from danhba.accounts.models import User
from danhba.contacts.models import Contact, ContactCompany, ContactPhone
from danhba.contacts.selectors import hidden_fields, member_q
from danhba.core.normalize import clean_text
from danhba.quality import decay
from danhba.quality.conditions import SIGNALS, rows_for
from danhba.quality.features import ContactValues, record
from danhba.quality.models import (
    CleaningChange,
    CleaningJob,
    CleaningRun,
    ContactArchive,
    DecaySignal,
    DuplicatePair,
    Freshness,
    Merge,
    MergedContact,
)


def merge_survivor_of(contact_id: int) -> int | None:
    """Where a merged-away contact went (its tombstone's survivor), or None."""
    found = MergedContact.objects.filter(contact_id=contact_id).values_list("survivor_id", flat=True).first()
    return int(found) if found is not None else None


def merge_survivors_among(contact_ids: list[int]) -> set[int]:
    """Those of these contacts that survive a merge not undone: other contacts' rows were moved
    onto them, so an import's undo keeps them."""
    found = Merge.objects.filter(survivor_id__in=contact_ids, status=Merge.Status.DONE)
    return set(found.values_list("survivor_id", flat=True))


# The fields whose completeness the dashboard measures, and the list filter ``missing=`` names.
# (label, condition "is empty" on Contact under a prefix)
COMPLETENESS: dict[str, Any] = {
    "full_name": gettext_lazy("Name"),
    "email": gettext_lazy("Email"),
    "phone": gettext_lazy("Phone"),
    "province": gettext_lazy("Province / city"),
    "street": gettext_lazy("Street address"),
    "birthday": gettext_lazy("Birthday"),
    "gender": gettext_lazy("Gender"),
    "job_title": gettext_lazy("Job title"),
    "occupation": gettext_lazy("Occupation"),
    "company": gettext_lazy("Company"),
}
QUALITY_VALUES = ("needs_verification", "archived", "not_computed", *decay.BUCKET_KEYS, *SIGNALS)


def missing_q(field: str, prefix: str = "") -> Q:
    """Contacts whose ``field`` is empty."""
    if field == "company":
        return ~Q(Exists(ContactCompany.objects.filter(contact_id=OuterRef(f"{prefix}pk"))))
    if field == "birthday":
        return Q(**{f"{prefix}birthday__isnull": True})
    return Q(**{f"{prefix}{field}": ""})


def completeness_fields(user: User | None) -> list[str]:
    """The fields this reader may count (sensitive ones they may not see are left out)."""
    hidden = hidden_fields(user) if user is not None else set()
    return [f for f in COMPLETENESS if f not in hidden]


def filter_parse(params: Mapping[str, Any], errors: dict[str, list[str]]) -> dict[str, str] | None:
    """``quality`` (needs_verification, archived, not_computed, a freshness bucket or a signal)
    and ``missing`` (a field of :data:`COMPLETENESS`)."""
    out = {}
    quality = clean_text(params.get("quality"))
    if quality:
        if quality in QUALITY_VALUES:
            out["quality"] = quality
        else:
            errors["quality"] = [_("must be one of: %s") % ", ".join(QUALITY_VALUES)]
    missing = clean_text(params.get("missing"))
    if missing:
        if missing in COMPLETENESS:
            out["missing"] = missing
        else:
            errors["missing"] = [_("must be one of: %s") % ", ".join(COMPLETENESS)]
    return out or None


def filter_q(value: dict[str, str], user: User, prefix: str) -> Q:
    q = Q()
    missing = value.get("missing")
    if missing:
        if missing not in completeness_fields(user):
            from danhba.core.errors import InvalidInput

            raise InvalidInput({"missing": [_("your role may not see this field")]}, _("Some filters are not valid."))
        q &= missing_q(missing, prefix)
    quality = value.get("quality")
    if quality == "archived":
        q &= member_q(ContactArchive.objects.all(), prefix)
    elif quality == "not_computed":
        q &= ~Q(Exists(Freshness.objects.filter(contact_id=OuterRef(f"{prefix}pk"))))
    elif quality in decay.BUCKET_KEYS:
        q &= member_q(rows_for({"is": "freshness", "bucket": quality}), prefix)
    elif quality in SIGNALS:
        q &= member_q(rows_for({"is": "signal", "signal": quality}), prefix)
    elif quality:
        q &= member_q(rows_for({"is": "needs_verification"}), prefix)
    return q


def filter_fields(user: User | None) -> dict[str, forms.Field]:
    if user is None or not user.can("contact", "view"):
        return {}
    quality = forms.ChoiceField(label=gettext_lazy("Data quality"), required=False)
    quality.choices = [
        ("", "—"),
        ("needs_verification", _("Needs verification")),
        *((b.key, str(b.label)) for b in decay.BUCKETS),
        *((k, str(v)) for k, v in SIGNALS.items()),
        ("archived", _("Archived")),
    ]
    missing = forms.ChoiceField(label=gettext_lazy("Missing field"), required=False)
    missing.choices = [("", "—"), *((f, str(COMPLETENESS[f])) for f in completeness_fields(user))]
    return {"quality": quality, "missing": missing}


def contact_quality(contact: Contact) -> dict[str, Any]:
    """A contact's freshness, signals and archive state (panel and API)."""
    row = Freshness.objects.filter(contact_id=contact.pk).first()
    signals = list(DecaySignal.objects.filter(contact_id=contact.pk).order_by("kind"))
    archive = ContactArchive.objects.filter(contact_id=contact.pk).first()
    now = timezone.now()
    bucket = decay.bucket_of(row.seen_at, now) if row else ""
    return {
        "computed": row is not None,
        "needs_verification": bool(row and row.needs_verification),
        "verified_at": row.verified_at if row else None,
        "verified_by": row.verified_by if row else "",
        "last_activity_at": row.last_activity_at if row else None,
        "seen_at": row.seen_at if row else None,
        "bucket": bucket,
        "bucket_label": str(decay.bucket(bucket).label) if bucket else "",
        "signals": [
            {"kind": s.kind, "label": str(SIGNALS.get(s.kind, s.kind)), "detail": s.detail, "seen_at": s.seen_at}
            for s in signals
        ],
        "archived_at": archive.archived_at if archive else None,
    }


# --- cleaning ---------------------------------------------------------------------------------

REPORT_PAGE = 100


def cleaning_jobs() -> list[dict[str, Any]]:
    """Every cleaning job with its latest run."""
    from danhba.quality.models import CleaningJob

    jobs = list(CleaningJob.objects.all())
    latest: dict[int, Any] = {}
    for run in CleaningRun.objects.filter(job__in=jobs).order_by("job_id", "-created_at", "-pk"):
        latest.setdefault(run.job_id, run)
    return [{"job": j, "run": latest.get(j.pk)} for j in jobs]


def run_report(run: CleaningRun, *, action: str = "", after: str = "") -> dict[str, Any]:
    """A page of the changes a run made (optionally of one action), in id order from ``after``."""
    rows = CleaningChange.objects.filter(run=run)
    if action:
        rows = rows.filter(action=action)
    if after.isascii() and after.isdigit() and len(after) <= 18:
        rows = rows.filter(pk__gt=int(after))
    items = list(rows.order_by("pk")[: REPORT_PAGE + 1])
    more = len(items) > REPORT_PAGE
    items = items[:REPORT_PAGE]
    return {
        "items": items,
        "next": str(items[-1].pk) if more else "",
        "actions": dict(CleaningJob.Action.choices),
    }


def run_out(run: CleaningRun) -> dict[str, Any]:
    """A run as the API shows it."""
    labels = dict(CleaningJob.Action.choices)
    return {
        "id": run.pk, "job_id": run.job_id, "status": run.status, "status_label": str(run.get_status_display()),
        "actions": run.actions, "scheduled": run.scheduled, "done": run.done, "total": run.total,
        "percent": run.percent, "created_at": run.created_at, "started_at": run.started_at,
        "finished_at": run.finished_at, "error": run.error,
        "preview": [
            {"action": a, "label": str(labels.get(a, a)), "contacts": n, "sample": run.preview_sample.get(a, [])}
            for a, n in run.preview_counts.items()
        ],
        "counts": run.counts,
        "changed": [
            {"action": a, "label": str(labels[a]), "changed": run.counts.get(a, 0),
             "refused": run.counts.get(f"{a}:refused", 0)}
            for a in labels if a in run.counts or f"{a}:refused" in run.counts
        ],
    }  # fmt: skip


def job_out(job: Any) -> dict[str, Any]:
    return {
        "id": job.pk, "name": job.name, "actions": job.actions, "frequency": job.frequency,
        "archive_after_months": job.archive_after_months, "auto_apply": job.auto_apply, "is_active": job.is_active,
        "next_run_at": job.next_run_at, "created_at": job.created_at,
    }  # fmt: skip


# --- duplicate detection ----------------------------------------------------------------------
# Reads of the quality app that pages, the API and other apps' hooks share. Duplicate


EXPORT_CHUNK = 20_000
# The real-time check looks at no more than this many candidates per new contact (a very
# common name would otherwise bring thousands; the nightly run sees them all).
MAX_CANDIDATES = 200
VALUE_FIELDS = ("id", "full_name", "email", "phone", "birthday", "province", "company_name", "street", "ward")


def _values(qs: QuerySet[Contact]) -> QuerySet[Contact, dict[str, Any]]:
    company = ContactCompany.objects.filter(contact=OuterRef("pk")).order_by("id").values("company__name")[:1]
    return qs.annotate(company_name=Subquery(company)).values(*VALUE_FIELDS)


def _record(row: dict[str, Any]) -> dict[str, object]:
    return record(
        ContactValues(
            id=row["id"],
            full_name=row["full_name"] or "",
            email=row["email"] or "",
            phone=row["phone"] or "",
            birthday=row["birthday"],
            province=row["province"] or "",
            company=row["company_name"] or "",
            street=row["street"] or "",
            ward=row["ward"] or "",
        )
    )


def records_in_chunks(chunk: int = EXPORT_CHUNK) -> Iterator[list[dict[str, object]]]:
    """Every contact as a matching record, ``chunk`` at a time, by keyset on the id (no
    offset scans, never all contacts in memory at once)."""
    last = 0
    while True:
        rows = list(_values(Contact.objects.filter(id__gt=last).order_by("id"))[:chunk])
        if not rows:
            return
        last = rows[-1]["id"]
        yield [_record(r) for r in rows]


def records_of(ids: Iterable[int]) -> dict[int, dict[str, object]]:
    wanted = sorted({int(i) for i in ids})
    out: dict[int, dict[str, object]] = {}
    for start in range(0, len(wanted), 500):
        for row in _values(Contact.objects.filter(id__in=wanted[start : start + 500]).order_by()):
            out[row["id"]] = _record(row)
    return out


def candidates_of(contact_ids: Iterable[int]) -> dict[int, set[int]]:
    """For each new contact, the existing contacts that share an indexed key with it: a phone
    (any of its phones), or the folded name (also with the given name first, "Đức Nguyễn Văn")."""
    ids = sorted({int(i) for i in contact_ids})
    found: dict[int, set[int]] = {i: set() for i in ids}
    if ids:
        _add(found, _same_phone(ids))
        _add(found, _same_name(ids))
    return found


def _add(found: dict[int, set[int]], pairs: Iterable[tuple[int, int]]) -> None:
    for mine, other in pairs:
        if mine != other:
            found[mine].add(other)


def _same_phone(ids: list[int]) -> Iterator[tuple[int, int]]:
    by_phone: dict[str, set[int]] = {}
    for cid, e164 in ContactPhone.objects.filter(contact_id__in=ids).values_list("contact_id", "e164"):
        by_phone.setdefault(e164, set()).add(cid)
    others = ContactPhone.objects.filter(e164__in=list(by_phone)).values_list("e164", "contact_id")
    for e164, cid in others[: MAX_CANDIDATES * len(ids)]:
        for mine in by_phone[e164]:
            yield mine, cid


def _same_name(ids: list[int]) -> Iterator[tuple[int, int]]:
    by_key: dict[str, set[int]] = {}
    for cid, key in Contact.objects.filter(id__in=ids).values_list("id", "name_key"):
        words = key.split()
        for variant in {key, " ".join(words[-1:] + words[:-1]), " ".join(words[1:] + words[:1])} - {""}:
            by_key.setdefault(variant, set()).add(cid)
    # Per key, its MAX_CANDIDATES newest contacts: one query per 500 keys (a query per key was
    # 19,000 queries, 19 s of the worker's CPU, for 100,000 events of the ingest benchmark).
    keys = sorted(by_key)
    for start in range(0, len(keys), 500):
        newest = Window(RowNumber(), partition_by=F("name_key"), order_by=F("id").desc())
        same = (
            Contact.objects.filter(name_key__in=keys[start : start + 500])
            .annotate(newest=newest)
            .filter(newest__lte=MAX_CANDIDATES)
            .order_by()
            .values_list("name_key", "id")
        )
        for key, cid in same:
            for mine in by_key[key]:
                yield mine, cid


def pairs_visible(user: User) -> QuerySet[DuplicatePair]:
    """Pairs whose two contacts the user may open."""
    visible = Contact.objects.visible_to(user).values("id")
    return DuplicatePair.objects.filter(contact_a__in=visible, contact_b__in=visible)


def queue(
    user: User,
    *,
    status: str = DuplicatePair.Status.OPEN,
    min_probability: float | None = None,
    max_probability: float | None = None,
    cluster: int | None = None,
    contact: int | None = None,
    found_by: str | None = None,
) -> QuerySet[DuplicatePair]:
    qs = pairs_visible(user).filter(status=status).select_related("contact_a", "contact_b")
    if min_probability is not None:
        qs = qs.filter(probability__gte=min_probability)
    if max_probability is not None:
        qs = qs.filter(probability__lte=max_probability)
    if cluster is not None:
        qs = qs.filter(cluster=cluster)
    if contact is not None:
        qs = qs.filter(Q(contact_a_id=contact) | Q(contact_b_id=contact))
    if found_by:
        qs = qs.filter(found_by=found_by)
    return qs


def merged_pair_count() -> int:
    """How many pairs were merged (merges not undone), read as ``merged_pairs`` reads them."""
    label = DuplicatePair._meta.label_lower
    merges = Merge.objects.filter(status=Merge.Status.DONE, dropped__has_key=label)
    count = 0
    for survivor, merged_ids, dropped in merges.values_list("survivor_id", "merged_ids", "dropped").iterator(
        chunk_size=500
    ):
        group = {int(survivor), *(int(c) for c in merged_ids)}
        count += sum(1 for r in dropped.get(label, []) if {r.get("contact_a_id"), r.get("contact_b_id")} <= group)
    return count


def merged_pairs(
    user: User,
    *,
    limit: int,
    min_probability: float | None = None,
    max_probability: float | None = None,
    contact: int | None = None,
    found_by: str | None = None,
) -> list[DuplicatePair]:
    """The pairs whose contacts were merged, newest merge first (``limit`` at most). A merge
    removes the merged-away contact with its pairs and keeps them in its record for undo, so
    they are read from the merges not undone whose survivor the user may see: each pair as it
    was before the merge, marked merged, its two contacts as the merge found them."""
    pair_label = DuplicatePair._meta.label_lower
    fields = {f.attname: f for f in DuplicatePair._meta.concrete_fields}
    contact_fields = {f.attname: f for f in Contact._meta.concrete_fields}
    merges = Merge.objects.filter(
        status=Merge.Status.DONE,
        dropped__has_key=pair_label,
        survivor_id__in=Contact.objects.visible_to(user).values("id"),
    ).order_by("-id")
    out: list[DuplicatePair] = []
    for merge in merges.iterator(chunk_size=100):
        group = {int(merge.survivor_id), *(int(c) for c in merge.merged_ids)}
        for stored in merge.dropped.get(pair_label, []):
            pair = DuplicatePair(**_stored_values(stored, fields))
            if not {pair.contact_a_id, pair.contact_b_id} <= group or not _pair_wanted(
                pair, min_probability, max_probability, contact, found_by
            ):
                continue
            pair.contact_a, pair.contact_b = (_contact_as_merged(merge, cid, contact_fields) for cid in pair.as_key())
            pair.status, pair.cluster, pair.reviewed_at = DuplicatePair.Status.MERGED, None, merge.created_at
            pair.reviewed_by_id = merge.created_by_id
            out.append(pair)
            if len(out) >= limit:
                return out
    return out


def _pair_wanted(
    pair: DuplicatePair, low: float | None, high: float | None, contact: int | None, found_by: str | None
) -> bool:
    """The queue's filters, on a pair read back from a merge's record."""
    return (
        (low is None or pair.probability >= low)
        and (high is None or pair.probability <= high)
        and (contact is None or contact in pair.as_key())
        and (not found_by or pair.found_by == found_by)
    )


def _contact_as_merged(merge: Merge, contact_id: int, fields: dict[str, Any]) -> Contact:
    """One contact of a merged pair as the merge found it (from its snapshot; only its id once
    the merge's personal data was removed)."""
    return Contact(**{"id": contact_id, **_stored_values(merge.snapshot.get(str(contact_id), {}), fields)})


def _stored_values(stored: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """A row's values as a merge stored them (JSON), back as Python values, by attname."""
    return {a: None if v is None else fields[a].to_python(v) for a, v in stored.items() if a in fields}


def pair_get(user: User, pair_id: int) -> DuplicatePair | None:
    return pairs_visible(user).select_related("contact_a", "contact_b").filter(pk=pair_id).first()


# --- what the queue shows -----------------------------------------------------------------

SHOWN_FIELDS = ("name", "email", "phone", "birthday", "province", "company", "street", "ward")


def _companies(ids: set[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    links = ContactCompany.objects.filter(contact_id__in=ids).order_by("id").values_list("contact_id", "company__name")
    for cid, name in links:
        out.setdefault(cid, name)
    return out


def _side(contact: Contact, company: str, hidden: set[str]) -> dict[str, Any]:
    from django.urls import reverse

    from danhba.core.vn import PROVINCE_NAMES

    return {
        "id": contact.pk,
        "name": contact.display_name,
        "email": contact.email,
        "phone": contact.phone,
        "birthday": None if "birthday" in hidden or not contact.birthday else contact.birthday,
        "province": PROVINCE_NAMES.get(contact.province, contact.province),
        "company": company,
        "street": contact.street,
        "ward": contact.ward,
        "url": reverse("contacts:detail", args=[contact.pk]),
    }


def explanation(model: dict[str, Any], pair: DuplicatePair, hidden: set[str]) -> dict[str, Any]:
    """Each field's part in the pair's score, in the reader's language: the level that held
    and its weight (log2 of m/u: above 0 the field speaks for a match, below against), the
    prior, and the running total the waterfall chart draws. A field the reader may not see is
    counted, not named."""
    from danhba.quality.comparisons import FIELD_LABELS, LEVEL_LABELS
    from danhba.quality.matching import explain

    score = explain(model, pair.levels or {})
    running = score.prior_weight
    parts = []
    for part in score.parts:
        start, running = running, running + part.weight
        secret = part.field in hidden
        parts.append(
            {
                "field": part.field,
                "label": str(FIELD_LABELS.get(part.field, part.field)),
                "level": part.level,
                "level_label": "—" if secret else str(LEVEL_LABELS.get(part.label, part.label)),
                "weight": round(part.weight, 3),
                "start": round(start, 3),
                "end": round(running, 3),
            }
        )
    return {"prior_weight": round(score.prior_weight, 3), "match_weight": round(score.match_weight, 3), "parts": parts}


def _evidence_label(key: str) -> str:
    """What identity resolution saw, in the reader's language."""
    from danhba.tracking.models import SuspectedDuplicate

    return str(SuspectedDuplicate.Reason(key).label) if key in SuspectedDuplicate.Reason.values else key


def pair_rows(user: User, pairs: list[DuplicatePair], model: dict[str, Any]) -> list[dict[str, Any]]:
    """Pairs as the queue and the API show them: both contacts' values side by side (fields
    the reader may not see left out) and the explanation."""
    from danhba.contacts.selectors import hidden_fields

    hidden = set(hidden_fields(user))
    companies = _companies({c for p in pairs for c in (p.contact_a_id, p.contact_b_id)})
    rows = []
    for pair in pairs:
        rows.append(
            {
                "pair": pair,
                "id": pair.pk,
                "status": pair.status,
                "probability": pair.probability,
                "match_weight": pair.match_weight,
                "found_by": pair.found_by,
                "cluster": pair.cluster,
                "found_at": pair.found_at,
                "evidence": sorted(pair.evidence),
                "evidence_labels": [_evidence_label(key) for key in sorted(pair.evidence)],
                "contact_a": _side(pair.contact_a, companies.get(pair.contact_a_id, ""), hidden),
                "contact_b": _side(pair.contact_b, companies.get(pair.contact_b_id, ""), hidden),
                "explanation": explanation(model, pair, hidden) if pair.levels else None,
            }
        )
    return rows


def field_names() -> list[tuple[str, str]]:
    """The fields a pair is compared on, named in the reader's language."""
    from danhba.quality.comparisons import FIELD_LABELS

    return [(key, str(FIELD_LABELS[key])) for key in SHOWN_FIELDS]


def merges_visible(user: User) -> QuerySet[Merge]:
    """The merges a user may see: those whose survivor the user may see (or that is gone)."""
    from danhba.contacts.models import Contact

    merges = Merge.objects.all()
    if not user.can("merge", "view"):
        return merges.none()
    if user.role.record_scope == "all":
        return merges
    visible = Contact.objects.visible_to(user).values("pk")
    return merges.filter(Q(survivor_id__in=visible) | ~Q(survivor_id__in=Contact.objects.values("pk")))


def merges_page(
    user: User, *, contact_id: int | None = None, before: int | None = None, limit: int = 50
) -> tuple[list[Merge], int | None]:
    """Newest first, ``limit`` at a time; the id to pass as ``before`` for the next page."""
    merges = merges_visible(user).select_related("created_by", "undone_by").order_by("-id")
    if contact_id is not None:
        # Merges into the contact, and the one that merged it away (undone ones have no tombstone).
        merges = merges.filter(Q(survivor_id=contact_id) | Q(tombstones__contact_id=contact_id)).distinct()
    if before is not None:
        merges = merges.filter(pk__lt=before)
    rows = list(merges[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].pk if more and rows else None)


def merge_out(merge: Merge) -> dict[str, Any]:
    """A merge as the API and pages show it."""
    return {
        "id": merge.pk,
        "survivor_id": merge.survivor_id,
        "survivor": merge.survivor_label,
        "merged": [{"id": cid, "name": merge.label_of(cid)} for cid in merge.merged_ids],
        "status": merge.status,
        "created_at": merge.created_at,
        "created_by": merge.created_by.email if merge.created_by else None,
        "undone_at": merge.undone_at,
        "undo_until": merge.undo_until if merge.status == Merge.Status.DONE else None,
        "can_undo": merge.can_undo(),
        "changed_fields": sorted(k for k in merge.changes if k != "updated_at"),
        "rows_moved": {
            key.rsplit(".", 1)[0]: sum(len(v) for v in owners.values()) for key, owners in merge.moved.items()
        },
        "rows_dropped": {label: len(rows) for label, rows in merge.dropped.items()},
        "purged_at": merge.purged_at,
    }


def merge_changes(merge: Merge, hidden: set[str]) -> list[tuple[str, Any, Any]]:
    """The survivor's fields the merge changed, as (label, before, after); a sensitive field the
    reader may not see is named without its values."""
    from danhba.contacts.models import Contact

    labels = {f.attname: str(f.verbose_name) for f in Contact._meta.concrete_fields}
    rows: list[tuple[str, Any, Any]] = []
    for attname, (before, after) in sorted(merge.changes.items()):
        if attname in ("updated_at", "name_key"):
            continue
        name = attname.removesuffix("_id")
        if attname == "custom":
            keys = sorted(
                {*(before or {}), *(after or {})}
                - {k for k in (before or {}) if (before or {}).get(k) == (after or {}).get(k)}
            )
            shown = [k for k in keys if f"custom.{k}" not in hidden]
            rows.extend((k, (before or {}).get(k), (after or {}).get(k)) for k in shown)
            continue
        if name in hidden:
            rows.append((labels.get(attname, attname), "…", "…"))
        else:
            rows.append((labels.get(attname, attname), _named(attname, before), _named(attname, after)))
    return rows


def _named(attname: str, value: Any) -> Any:
    """A key in a merge's changes by the name of what it points at (stage, buyer role, owner)."""
    from django.contrib.auth import get_user_model

    from danhba.contacts.models import BuyerRole, LifecycleStage

    models: dict[str, Any] = {
        "lifecycle_stage_id": LifecycleStage,
        "buyer_role_id": BuyerRole,
        "owner_id": get_user_model(),
    }
    model = models.get(attname)
    if model is None or value in (None, ""):
        return value
    found = model.objects.filter(pk=value).first()
    return str(found) if found is not None else value


def bulk_merges_recent(user: User, limit: int = 5) -> list[Any]:
    """The latest bulk merges the user started (all of them for those who edit the merge rules)."""
    from danhba.quality.models import BulkMerge

    jobs = BulkMerge.objects.order_by("-id")
    if not user.can("merge", "edit"):
        jobs = jobs.filter(created_by=user)
    return list(jobs.defer("groups")[:limit])


def bulk_merge_out(job: Any) -> dict[str, Any]:
    """A bulk merge's progress as the API shows it."""
    return {
        "id": job.pk,
        "status": job.status,
        "total": job.total,
        "done": job.position,
        "merged": job.merged,
        "failed": job.failed,
        "errors": job.results,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


def contact_names(user: User, ids: Iterable[int]) -> dict[int, str]:
    """The display names of the contacts the user may see, by id."""
    found = Contact.objects.visible_to(user).filter(pk__in=list(ids)).only("id", "full_name")
    return {c.pk: c.display_name for c in found}
