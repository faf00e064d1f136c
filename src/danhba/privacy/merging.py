"""Consent when contacts are merged (the quality app's merge; added to
``contacts.extensions.MERGE_TABLES`` in ``apps.py``).

The ledger is insert-only and outlives its contact: a merged-away contact's statements stay
under its old id (its tombstone points at the survivor). For each purpose, the survivor's
current status becomes the stricter of the merged contacts' (withdrawn beats granted; a status
beats none): where that differs from the survivor's own, a statement is appended to the
survivor's ledger citing the statement it comes from. The merged-away contacts' current states
are then left to the merge's generic rule (they clash with the survivor's and are kept by the
merge for undo). Undo appends the survivor's status from before the merge, where the merge's
statement is still its latest; a purpose the survivor had no statement for becomes withdrawn
(consent it never gave is not kept)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from danhba.privacy.models import ConsentRecord, ConsentSource, ConsentState, ConsentStatus

_STRICTNESS: dict[str, int] = {ConsentStatus.WITHDRAWN: 1, ConsentStatus.GRANTED: 0}


def _winner(states: list[ConsentState]) -> ConsentState:
    """The stricter state, the more recent among equals."""
    return max(states, key=lambda s: (_STRICTNESS.get(s.status, 1), s.since, s.pk))


def _append(contact_id: int, record: ConsentRecord, status: str, proof: str, until: Any) -> ConsentRecord:
    now = timezone.now()
    new = ConsentRecord.objects.create(
        contact_id=contact_id,
        purpose_id=record.purpose_id,
        status=status,
        source=record.source,
        proof=proof[:2000],
        text_version=record.text_version,
        ip_address=record.ip_address,
        recorded_at=now,
        recorded_by=None,
        until=until if until is not None and until > now else None,
    )
    ConsentState.objects.update_or_create(
        contact_id=contact_id,
        purpose_id=record.purpose_id,
        defaults={"status": status, "since": now, "record_id": new.pk, "until": new.until},
    )
    return new


def consents_merge(survivor_id: int, other_ids: list[int]) -> dict[str, Any]:
    """Before the merge moves rows: the survivor takes the stricter status per purpose. Returns,
    per purpose, the survivor's state before and the statement appended (for undo)."""
    states = list(ConsentState.objects.filter(contact_id__in=[survivor_id, *other_ids]))
    records = {r.pk: r for r in ConsentRecord.objects.filter(pk__in=[s.record_id for s in states])}
    by_purpose: dict[int, list[ConsentState]] = {}
    for state in states:
        by_purpose.setdefault(state.purpose_id, []).append(state)
    kept: dict[str, Any] = {}
    for purpose_id, found in by_purpose.items():
        own = next((s for s in found if s.contact_id == survivor_id), None)
        winner = _winner(found)
        if own is not None and (own.status == winner.status or winner.contact_id == survivor_id):
            continue
        source = records.get(winner.record_id)
        if source is None:
            continue
        proof = f"merge: contact #{winner.contact_id}, statement #{source.pk}" + (
            f" ({source.proof})" if source.proof else ""
        )
        new = _append(survivor_id, source, winner.status, proof, winner.until)
        kept[str(purpose_id)] = {
            "record": new.pk,
            "before": own.record_id if own is not None else None,
            "before_status": own.status if own is not None else None,
        }
    return kept


def consents_unmerge(survivor_id: int, other_ids: list[int], kept: Any) -> None:
    """After an undo: the survivor's status from before the merge, where the merge's statement
    is still the latest."""
    for purpose_id, what in (kept or {}).items():
        state = ConsentState.objects.filter(contact_id=survivor_id, purpose_id=int(purpose_id)).first()
        if state is None or state.record_id != what["record"]:
            continue
        merged = ConsentRecord.objects.get(pk=what["record"])
        if what["before"] is not None:
            before = ConsentRecord.objects.filter(pk=what["before"]).first() or merged
            status, proof = what["before_status"], f"merge undone: statement #{what['before']} again"
            _append(survivor_id, before, status, proof, before.until)
        else:
            proof = "merge undone: the consent came from another contact"
            record = ConsentRecord(purpose_id=merged.purpose_id, source=ConsentSource.UI, text_version="")
            _append(survivor_id, record, ConsentStatus.WITHDRAWN, proof, None)
