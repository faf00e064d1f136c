"""The quality app's part of the demo (``danhba demo``): every demo contact's freshness and
decay signals computed (the demo's activity spans two years, so every freshness bucket has
contacts), and the dashboard's first snapshot taken, so ``/quality/`` shows something on a new
site."""

from __future__ import annotations

from danhba.core.bulk import chunks
from danhba.core.demo import DemoRun
from danhba.quality.models import Freshness
from danhba.quality.services.dashboard import quality_snapshot_compute
from danhba.quality.services.freshness import freshness_update


def demo_quality_part(run: DemoRun) -> None:
    for chunk in chunks(list(run.contact_ids), 500):
        freshness_update(contact_ids=chunk, now=run.now)
    quality_snapshot_compute(now=run.now)
    run.counts["freshness"] = lambda: Freshness.objects.count()
