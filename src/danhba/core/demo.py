"""The demo dataset (``danhba demo``), made of the parts each app registers.

Every app that has demo data of its own — contacts (people, companies, timeline, the demo
users), privacy (consent), orders, tracking (the shop's website and order events), segments
(segments and lists) — registers a :class:`DemoPart` in its ``AppConfig.ready()``. A run calls
them in floor order (shared/STYLE.md), then by ``order`` within a floor, in one transaction:
a part reads what the parts below it wrote (the contacts just made are ``run.contact_ids``) and
may leave data for a later part in ``run.shared``. The run's summary and its audit row list
what each part counted.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from danhba.core import audit
from danhba.core.actor import Actor
from danhba.core.hooks import Registry

SEED = 2025
# The demo's data comes from Faker, the optional [demo] extra (`make run` installs it).
DEMO_NEEDS = "Faker is not installed: the demo dataset needs the demo extra (pip install 'danhba[demo]')."


def demo_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("faker") is not None


ProgressFn = Callable[[int, int], None]


@dataclass
class DemoRun:
    """One demo load, handed from part to part."""

    contacts: int
    seed: int
    now: dt.datetime
    progress: ProgressFn | None = None
    # The contacts this run made (set by the contacts part), in id order.
    contact_ids: list[int] = field(default_factory=list)
    # What each part made, for the summary and the audit row. A count may be a function, read
    # when every part has run (orders that a later part's events create).
    counts: dict[str, int | Callable[[], int]] = field(default_factory=dict)
    # What a part leaves for a later one, by a key the leaving part documents.
    shared: dict[str, Any] = field(default_factory=dict)
    # The demo users (one per role): their shared password when they were created by this run.
    password: str | None = None
    user_emails: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DemoPart:
    """An app's part of the demo. ``load(run)`` writes it; ``present()`` tells whether the data
    is there already (``danhba demo --if-empty`` then loads nothing); ``labels`` name the counts
    it adds for the command's summary."""

    floor: int  # of the app, in shared/STYLE.md's floor plan (core 0, accounts 1, … contacts 3)
    load: Callable[[DemoRun], None]
    order: int = 0
    present: Callable[[], bool] | None = None
    labels: tuple[tuple[str, str], ...] = ()


DEMO_PARTS: Registry[DemoPart] = Registry("core.demo_parts", doc="Parts of the demo dataset (danhba demo), by app.")


def demo_part_add(key: str, part: DemoPart) -> None:
    """Register an app's part (from its ``AppConfig.ready()``)."""
    caller = sys._getframe(1).f_globals.get("__name__", "")
    DEMO_PARTS.add(key, part, position=part.floor * 100 + part.order, added_by=caller)


def demo_parts() -> list[DemoPart]:
    return sorted(DEMO_PARTS, key=lambda part: (part.floor, part.order))


def demo_present() -> bool:
    """Whether any part's data is there already."""
    return any(part.present() for part in demo_parts() if part.present is not None)


def demo_labels() -> list[tuple[str, str]]:
    """The counts a run reports, as (key, label), in part order."""
    return [label for part in demo_parts() for label in part.labels]


def demo_run(*, contacts: int = 3000, seed: int = SEED, progress: ProgressFn | None = None) -> dict[str, Any]:
    """Load every part, in one transaction; returns the counts with the seed, the demo users'
    emails and their password (None when they existed already)."""
    run = DemoRun(contacts=contacts, seed=seed, now=timezone.now(), progress=progress)
    with transaction.atomic():
        for part in demo_parts():
            part.load(run)
        counts = {key: value() if callable(value) else value for key, value in run.counts.items()}
        audit.record(
            actor=Actor.system("cli"),
            action=audit.CREATE,
            object_type="demo",
            object_label=f"demo dataset: {contacts} contacts (seed {seed})",
            changes={key: [None, value] for key, value in counts.items()},
        )
    return {**counts, "seed": seed, "password": run.password, "user_emails": run.user_emails}
