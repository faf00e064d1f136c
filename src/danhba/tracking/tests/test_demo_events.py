"""The demo's events: stored through the real intake, consistent with the demo's orders, and
enough of them that the README's example segment, the events explorer and the builder's
suggestions have something to show."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import F
from django.utils import timezone

from danhba.conftest import module_data
from danhba.contacts.models import Contact, ExternalId
from danhba.core.demo import demo_run as demo_load
from danhba.orders.models import Order
from danhba.segments.compiler import matching
from danhba.tracking.demo import SITE, TRACKING_DAYS
from danhba.tracking.models import AnonymousIdentity, Event, EventMessage

pytestmark = pytest.mark.django_db

README_EXAMPLE = {
    "op": "all",
    "conditions": [
        {"kind": "event", "name": "Order Completed", "count": {"operator": "gte", "value": 3},
         "period": {"last_days": 90}}
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def loaded(django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: Any) -> Any:
    """One small demo for the module's tests (loading it is the slow part)."""
    with module_data(django_db_blocker, tmp_path_factory):
        yield demo_load(contacts=150, seed=7)


def test_every_order_since_tracking_started_came_as_an_order_completed_event(loaded: Any) -> None:
    since = timezone.now() - dt.timedelta(days=TRACKING_DAYS)
    recent = Order.objects.filter(placed_at__gte=since).prefetch_related("lines")
    assert recent.count() > 20 and Order.objects.filter(placed_at__lt=since).exists()
    completed = {e.properties["order_id"]: e for e in Event.objects.filter(name="Order Completed")}
    assert set(completed) == {o.order_id for o in recent}
    for order in recent:
        event = completed[order.order_id]
        assert event.contact_id == order.contact_id and event.timestamp == order.placed_at
        assert Decimal(str(event.properties["total"])) == order.total
        lines = sorted((line.product_id, line.quantity) for line in order.lines.all())
        assert sorted((p["product_id"], p["quantity"]) for p in event.properties["products"]) == lines
        assert order.source_id == event.source_id  # the order was made by the intake, from this event
    # Cancellations and refunds came as events too, and the orders show them.
    for event in Event.objects.filter(name__in=("Order Cancelled", "Order Refunded")):
        order = Order.objects.get(order_id=event.properties["order_id"])
        assert order.status != Order.Status.COMPLETED and event.timestamp > order.placed_at


def test_products_are_viewed_before_an_online_order(loaded: Any) -> None:
    online = Event.objects.filter(name="Order Completed", properties__channel="online")
    assert online.exists()
    for event in online[:30]:
        viewed = Event.objects.filter(
            name="Product Viewed", contact_id=event.contact_id, timestamp__lt=event.timestamp,
            timestamp__gte=event.timestamp - dt.timedelta(hours=1),
        ).values_list("properties__product_id", flat=True)  # fmt: skip
        assert {p["product_id"] for p in event.properties["products"]} <= set(viewed)


def test_page_views_carry_urls_and_campaigns(loaded: Any) -> None:
    pages = Event.objects.filter(type="page")
    assert pages.count() > 500
    for event in pages[:200]:
        assert event.properties["url"].startswith(SITE) and event.context["page"]["title"]
    from_campaigns = [e for e in pages if e.context.get("campaign")]
    assert 0.1 * pages.count() < len(from_campaigns) < 0.6 * pages.count()
    for event in from_campaigns[:50]:
        campaign = event.context["campaign"]
        assert f"utm_source={campaign['source']}" in event.properties["url"]
        assert f"utm_campaign={campaign['name']}" in event.properties["url"]
    # Visitors who never signed up stay anonymous; those who did took their browsing with them.
    assert Event.objects.filter(contact=None, type="page").exists()
    assert AnonymousIdentity.objects.exists()


def test_sign_ups_happen_when_the_contact_was_created(loaded: Any) -> None:
    signed = Event.objects.filter(name="Signed Up")
    assert signed.exists()
    created = dict(Contact.objects.values_list("pk", "created_at"))
    for event in signed:
        assert abs(event.timestamp - created[event.contact_id]) < dt.timedelta(seconds=5)
        assert ExternalId.objects.filter(contact_id=event.contact_id, system="segment", value=event.user_id).exists()


def test_events_look_like_live_ones_and_span_the_tracking_period(loaded: Any) -> None:
    assert loaded["events"] == Event.objects.count()
    assert EventMessage.objects.count() == Event.objects.count()  # every messageId claimed once
    oldest = Event.objects.order_by("timestamp").first()
    assert oldest is not None
    assert dt.timedelta(days=120) < timezone.now() - oldest.timestamp <= dt.timedelta(days=TRACKING_DAYS)
    assert not Event.objects.filter(received_at__lt=F("timestamp")).exists()
    per_contact: dict[int, int] = defaultdict(int)
    for contact_id in Event.objects.exclude(contact=None).values_list("contact_id", flat=True):
        per_contact[contact_id] += 1
    assert len(per_contact) > 30


def test_the_readme_example_segment_finds_people(loaded: Any) -> None:
    assert matching(README_EXAMPLE).exists()
