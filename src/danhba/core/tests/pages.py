"""Demo-like data for the page checks: what a new user sees after `make run`, small."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.urls import reverse
from django.utils import timezone

from danhba.conftest import actor_for

FIXTURES = Path(__file__).resolve().parents[2] / "ingest" / "tests" / "fixtures"


def load_demo(admin: Any, contacts: int = 60) -> dict[str, Any]:
    """The demo dataset (contacts, companies, tags, orders, segments and a list), a finished
    import, an event source with events, and a webhook endpoint.

    Returns the pages the sweep must reach (``must_see``) and those it cannot find by
    following links below the menu (``extra_pages``)."""
    from danhba.contacts.models import Contact
    from danhba.core.demo import demo_run as demo_load
    from danhba.ingest import services as imports
    from danhba.segments.models import Segment
    from danhba.segments.services import list_add
    from danhba.tracking.models import Event
    from danhba.tracking.services.sources import source_create
    from danhba.webhooks.services import endpoint_create

    actor = actor_for(admin)
    demo_load(contacts=contacts, seed=7)
    run = imports.import_create(actor=actor, file=FIXTURES / "excel_cp1258.csv")
    run = imports.import_configure(actor=actor, run=run, source="import", consent_proof="paper forms, shop 1")
    imports.import_start(actor=actor, run=run, enqueue=False)
    imports.import_execute(run.pk, via="cli")
    source, _key = source_create(actor=actor, name="Website bán hàng", kind="website")
    now = timezone.now()
    people = list(Contact.objects.order_by("id")[:10])
    Event.objects.bulk_create(
        Event(
            source=source, message_id=f"demo-{n}", type="track", name=name, contact=people[n % len(people)],
            timestamp=now - dt.timedelta(hours=n * 7), received_at=now, properties={"total": 150000 * (n + 1)},
        )
        for n, name in enumerate(["Order Completed", "Product Viewed", "Signed Up"] * 8)
    )  # fmt: skip
    endpoint_create(actor=actor, url="https://hooks.example.vn/danhba", topics=["contact.created"])
    static_list = Segment.objects.filter(kind=Segment.Kind.STATIC).order_by("id").first()
    dynamic = Segment.objects.filter(kind=Segment.Kind.DYNAMIC).order_by("id").first()
    assert static_list is not None and dynamic is not None
    list_add(actor=actor, segment=static_list, contact_ids=[c.pk for c in people[:5]])
    from danhba.quality.services.cleaning import cleaning_job_create, cleaning_run_execute, cleaning_run_start

    job = cleaning_job_create(actor=actor, data={"name": "Làm sạch hằng quý", "actions": ["normalise", "email_typos"]})
    cleaning_run = cleaning_run_start(actor=actor, job=job)
    cleaning_run_execute(run_id=cleaning_run.pk)
    extra = [
        reverse("quality:cleaning_job", args=[job.pk]),
        reverse("quality:cleaning_run", args=[cleaning_run.pk]),
        reverse("orders:products"),
        reverse("segments:detail", args=[static_list.pk]),
        reverse("segments:detail", args=[dynamic.pk]),
    ]
    must_see = [
        reverse("contacts:list"), reverse("contacts:detail", args=[people[0].pk]),
        reverse("contacts:company_list"), reverse("ingest:list"), reverse("ingest:detail", args=[run.pk]),
        reverse("events:explorer"), reverse("segments:list"), reverse("segments:detail", args=[dynamic.pk]),
        reverse("segments:edit", args=[dynamic.pk]), reverse("segments:create"), reverse("orders:list"),
        reverse("orders:products"), reverse("audit:log"),
        reverse("accounts:user_list"), reverse("accounts:role_list"), reverse("accounts:role_edit", args=[1]),
        reverse("settings:index"), reverse("tracking:source_list"), reverse("tracking_retention:list"),
        reverse("webhooks:list"), reverse("accounts:profile"), reverse("quality:dashboard"),
        reverse("quality:cleaning"),
    ]  # fmt: skip
    return {"must_see": must_see, "extra_pages": extra, "import": run, "list": static_list, "segment": dynamic}
