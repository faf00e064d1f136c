"""What scoring tells the apps above it (automation), which it does not import: they connect in
their ``AppConfig.ready()`` (``core/hooks.py``; ``danhba hooks`` lists who listens)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from danhba.core.hooks import Hook


@dataclass(frozen=True)
class GradeChange:
    """A contact's grade in one model changed (``""``: below every grade). ``rising`` when the
    new grade is higher (a fast-track rule lifts a contact to the top grade)."""

    contact_id: int
    model_id: int
    old_grade: str
    new_grade: str
    total: Decimal
    rising: bool
    at: dt.datetime


SCORE_REACHED: Hook[[list[GradeChange]], None] = Hook(
    "scoring.score_reached",
    doc="Contacts' grades changed (a list of GradeChange, one per contact and model, once per\n"
    "crossing), inside the transaction that stores the new scores.",
)
