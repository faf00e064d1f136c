"""Orders from Segment e-commerce events and the order services: lines, products, refunds,
cancellations, anonymous buyers, and purchase metrics kept current without rescans (checked
against a full recompute after random sequences of writes)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from danhba.contacts.models import PURCHASE_COLUMNS, Contact
from danhba.core.actor import Actor
from danhba.core.errors import Conflict, InvalidInput, NotFound
from danhba.core.tests.properties import examples
from danhba.orders import services as orders
from danhba.orders import stats as order_stats
from danhba.orders.models import Order, OrderLine, Product, PurchaseStats
from danhba.tracking.models import AnonymousIdentity, Event

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("cli")


def completed(order_id: str = "A-1", message_id: str = "m-1", **extra: Any) -> dict[str, Any]:
    properties = {
        "order_id": order_id,
        "total": 270000,
        "shipping": 20000,
        "currency": "VND",
        "coupon": "TET2026",
        "products": [
            {"product_id": "SKU-1", "name": "Cà phê sữa", "category": "Đồ uống", "quantity": 2, "price": 50000},
            {"sku": "SKU-2", "name": "Bánh mì", "category": "Đồ ăn", "quantity": 1, "price": 150000},
        ],
    }
    properties.update(extra.pop("properties", {}))
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": "user-1",
        "context": {"traits": {"email": "lan@example.vn"}},
        "messageId": message_id,
        "properties": properties,
        **extra,
    }


def stats_of(order: Order) -> PurchaseStats:
    return PurchaseStats.objects.get(contact_id=order.contact_id)


def test_order_completed_through_track_creates_order_lines_products_and_stats(post: Any) -> None:
    body = completed()
    body.pop("type")
    response = post("/v1/track", body)
    assert response.status_code == 200, response.content
    assert "warnings" not in response.json()
    order = Order.objects.get(order_id="A-1")
    assert order.contact is not None and order.contact.email == "lan@example.vn"
    assert (order.total, order.subtotal, order.shipping, order.currency, order.status) == (
        Decimal("270000"), Decimal("250000"), Decimal("20000"), "VND", "completed",
    )  # fmt: skip
    assert order.properties == {"coupon": "TET2026"}
    assert order.source is not None and order.channel == "online"
    lines = list(order.lines.order_by("position"))
    assert [(x.product_id, x.quantity, x.total) for x in lines] == [
        ("SKU-1", 2, Decimal("100000")),
        ("SKU-2", 1, Decimal("150000")),
    ]
    assert Product.objects.get(product_id="SKU-2").name == "Bánh mì"
    stats = stats_of(order)
    assert (stats.order_count, stats.total_spent, stats.average_order_value) == (1, 270000, 270000)
    assert stats.favourite_category == "Đồ ăn"
    assert stats.categories["Đồ uống"] == {"amount": "100000.00", "count": 1}
    assert stats.first_order_at == stats.last_order_at == order.placed_at
    assert stats.purchase_frequency_days is None


def test_batch_with_several_orders_and_a_replay_is_one_order_each(post: Any) -> None:
    batch = [completed("A-1", "m-1"), completed("A-2", "m-2", properties={"total": 100000})]
    assert post("/v1/batch", {"batch": batch}).json()["accepted"] == 2
    # The same orders again under new messageIds (a shop re-sending its history): no doubles.
    again = post(
        "/v1/batch", {"batch": [completed("A-1", "m-3"), completed("A-2", "m-4", properties={"total": 100000})]}
    )
    assert again.json()["accepted"] == 2
    assert Order.objects.count() == 2 and OrderLine.objects.count() == 4 and Product.objects.count() == 2
    assert Event.objects.filter(name="Order Completed").count() == 4
    stats = stats_of(Order.objects.get(order_id="A-1"))
    assert (stats.order_count, stats.total_spent, stats.average_order_value) == (2, 370000, 185000)


def test_an_update_replaces_lines_and_adjusts_stats_by_the_difference(post: Any) -> None:
    post("/v1/track", completed())
    smaller = completed(
        message_id="m-2",
        properties={"total": 60000, "products": [{"product_id": "SKU-3", "category": "Sách", "price": 60000}]},
    )
    smaller["event"] = "Order Updated"
    assert post("/v1/track", smaller).status_code == 200
    order = Order.objects.get()
    assert [x.product_id for x in order.lines.all()] == ["SKU-3"]
    stats = stats_of(order)
    assert (stats.order_count, stats.total_spent, stats.favourite_category) == (1, 60000, "Sách")
    assert list(stats.categories) == ["Sách"]


def test_bad_order_data_keeps_the_event_and_reports_a_warning(post: Any) -> None:
    bad = completed(properties={"products": [{"product_id": "X", "price": -5}], "total": "lots"})
    response = post("/v1/batch", {"batch": [bad, completed("B-2", "m-2")]})
    body = response.json()
    assert response.status_code == 200 and body["accepted"] == 2 and body["rejected"] == []
    (warning,) = body["warnings"]
    assert warning["messageId"] == "m-1" and warning["code"] == "order_invalid"
    assert set(warning["details"]) == {"lines.0.price", "total"}
    assert Event.objects.count() == 2
    assert list(Order.objects.values_list("order_id", flat=True)) == ["B-2"]


def test_refund_and_cancel_events(post: Any) -> None:
    post("/v1/track", completed())
    refund = {"event": "Order Refunded", "userId": "user-1", "messageId": "r-1"}
    post(
        "/v1/track", {**refund, "properties": {"order_id": "A-1", "products": [{"product_id": "SKU-1", "quantity": 1}]}}
    )
    order = Order.objects.get()
    assert (order.status, order.refunded_amount) == ("partially_refunded", Decimal("50000"))
    stats = stats_of(order)
    assert stats.total_spent == 220000
    assert stats.categories["Đồ uống"]["amount"] == "50000.00"
    # The same refund event again (same messageId) is a duplicate; a second refund of the rest:
    post(
        "/v1/track", {**refund, "properties": {"order_id": "A-1", "products": [{"product_id": "SKU-1", "quantity": 1}]}}
    )
    post("/v1/track", {**refund, "messageId": "r-2", "properties": {"order_id": "A-1"}})
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == ("refunded", Decimal("270000"))
    stats.refresh_from_db()
    assert (stats.order_count, stats.total_spent, stats.first_order_at, stats.favourite_category) == (0, 0, None, "")
    response = post("/v1/track", {**refund, "messageId": "r-3", "properties": {"order_id": "nope"}})
    assert response.json()["warnings"][0]["code"] == "order_not_found"
    post("/v1/track", completed("C-1", "m-9"))
    post(
        "/v1/track",
        {"event": "Order Cancelled", "userId": "user-1", "messageId": "c-1", "properties": {"order_id": "C-1"}},
    )
    assert Order.objects.get(order_id="C-1").status == "cancelled"
    stats.refresh_from_db()
    assert stats.order_count == 0


def test_anonymous_order_moves_to_the_contact_on_identify(post: Any) -> None:
    body = completed()
    del body["userId"], body["context"]
    body["anonymousId"] = "device-9"
    post("/v1/track", body)
    order = Order.objects.get()
    assert order.contact_id is None and order.anonymous_id == "device-9"
    assert not PurchaseStats.objects.exists()
    post("/v1/identify", {"userId": "u-9", "anonymousId": "device-9", "traits": {"email": "mai@example.vn"}})
    order.refresh_from_db()
    assert order.contact is not None and order.contact.email == "mai@example.vn"
    assert (stats_of(order).order_count, stats_of(order).total_spent) == (1, 270000)
    # A later order from the same, now known, device goes straight to the contact.
    later = {**body, "messageId": "m-2", "properties": {**body["properties"], "order_id": "A-2"}}
    post("/v1/track", later)
    assert Order.objects.get(order_id="A-2").contact_id == order.contact_id


def test_foreign_currency_counts_as_an_order_but_not_as_money(make_contact: Any) -> None:
    contact = make_contact()
    orders.order_record(actor=SYSTEM, data={"order_id": "1", "total": 100}, contact_id=contact.pk)
    orders.order_record(actor=SYSTEM, data={"order_id": "2", "total": 5, "currency": "usd"}, contact_id=contact.pk)
    stats = PurchaseStats.objects.get(contact=contact)
    assert (stats.order_count, stats.money_order_count, stats.total_spent, stats.average_order_value) == (
        2,
        1,
        100,
        100,
    )
    assert Order.objects.get(order_id="2").currency == "USD"


def test_service_validation_and_conflicts(make_contact: Any) -> None:
    contact = make_contact()
    with pytest.raises(InvalidInput) as exc:
        orders.order_record(
            actor=SYSTEM,
            data={"order_id": "", "channel": "fax", "currency": "dong", "lines": [{"quantity": 0}, "x"]},
        )
    assert set(exc.value.details) == {"order_id", "channel", "currency", "lines.0.quantity", "lines.1"}
    orders.order_record(actor=SYSTEM, data={"order_id": "Z", "total": 100}, contact_id=contact.pk)
    with pytest.raises(InvalidInput):
        orders.order_refund(actor=SYSTEM, order_id="Z", amount=150)
    with pytest.raises(InvalidInput):
        orders.order_refund(actor=SYSTEM, order_id="Z", lines=[{"product_id": "none", "quantity": 1}])
    with pytest.raises(NotFound):
        orders.order_cancel(actor=SYSTEM, order_id="missing")
    orders.order_refund(actor=SYSTEM, order_id="Z", amount=40, refund_id="r1")
    orders.order_refund(actor=SYSTEM, order_id="Z", amount=40, refund_id="r1")  # applied once
    assert Order.objects.get().refunded_amount == 40
    orders.order_cancel(actor=SYSTEM, order_id="Z")
    with pytest.raises(Conflict):
        orders.order_refund(actor=SYSTEM, order_id="Z", amount=1)


def test_an_older_order_does_not_overwrite_a_product_seen_later(make_contact: Any) -> None:
    contact = make_contact()
    new = {
        "order_id": "N",
        "placed_at": "2026-03-01T10:00:00+07:00",
        "lines": [{"product_id": "P", "name": "Mới", "price": 20}],
    }
    old = {
        "order_id": "O",
        "placed_at": "2025-01-01T10:00:00+07:00",
        "lines": [{"product_id": "P", "name": "Cũ", "price": 10}],
    }
    orders.order_record(actor=SYSTEM, data=new, contact_id=contact.pk)
    orders.order_record(actor=SYSTEM, data=old, contact_id=contact.pk)
    product = Product.objects.get()
    assert (product.name, product.price) == ("Mới", 20)
    stats = PurchaseStats.objects.get(contact=contact)
    assert stats.purchase_frequency_days == pytest.approx(424.0, abs=0.01)


# --- incremental == recompute ---------------------------------------------------------------

CATEGORIES = ["Sách", "Đồ uống", "Đồ ăn", ""]
line_st = st.fixed_dictionaries(
    {
        "product_id": st.sampled_from(["P1", "P2", "P3", "P4"]),
        "category": st.sampled_from(CATEGORIES),
        "quantity": st.integers(1, 4),
        "price": st.integers(0, 500).map(lambda n: n * 1000),
    }
)
op_st = st.one_of(
    st.tuples(
        st.just("record"),
        st.integers(0, 5),  # order number
        st.integers(0, 2),  # contact number
        st.integers(0, 400),  # day
        st.lists(line_st, max_size=3),
        st.sampled_from(["VND", "VND", "USD"]),
    ),
    st.tuples(st.just("refund"), st.integers(0, 5), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("cancel"), st.integers(0, 5)),
    st.tuples(st.just("attach"), st.integers(0, 2)),
)


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op_st, min_size=1, max_size=14))
def test_incremental_stats_equal_a_recompute(make_contact: Any, ops: list[tuple[Any, ...]]) -> None:
    Order.objects.all().delete()
    PurchaseStats.objects.all().delete()
    AnonymousIdentity.objects.all().delete()
    contacts = [make_contact(full_name=f"Khách {i}").pk for i in range(3)]
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    for op in ops:
        try:
            if op[0] == "record":
                _, n, c, day, lines, currency = op
                data = {
                    "order_id": f"O{n}",
                    "placed_at": start + dt.timedelta(days=day),
                    "lines": lines,
                    "currency": currency,
                }
                # Contact 2's orders come from an anonymous device until "attach".
                if c == 2:
                    orders.order_record(actor=SYSTEM, data=data, anonymous_id="dev-2")
                else:
                    orders.order_record(actor=SYSTEM, data=data, contact_id=contacts[c])
            elif op[0] == "refund":
                _, n, qty, by_amount = op
                order = Order.objects.filter(order_id=f"O{n}").first()
                if order is None:
                    continue
                line = order.lines.first()
                if by_amount or line is None or not line.product_id:
                    orders.order_refund(actor=SYSTEM, order_id=order.order_id, amount=qty * 1000 or None)
                else:
                    orders.order_refund(
                        actor=SYSTEM,
                        order_id=order.order_id,
                        lines=[{"product_id": line.product_id, "quantity": max(qty, 1)}],
                    )
            elif op[0] == "cancel":
                orders.order_cancel(actor=SYSTEM, order_id=f"O{op[1]}")
            elif op[0] == "attach":
                orders.orders_attach_anonymous(anonymous_id="dev-2", contact_id=contacts[2])
                AnonymousIdentity.objects.get_or_create(anonymous_id="dev-2", contact_id=contacts[2])
        except (InvalidInput, NotFound, Conflict):
            continue
    fields = [
        "order_count", "money_order_count", "total_spent", "average_order_value", "first_order_at",
        "last_order_at", "purchase_frequency_days", "categories", "favourite_category",
    ]  # fmt: skip
    incremental = {s.contact_id: [getattr(s, f) for f in fields] for s in PurchaseStats.objects.all()}
    # The contact's own copy, which segments read, is the same as its metrics row.
    for contact in Contact.objects.filter(pk__in=contacts):
        row = PurchaseStats.objects.filter(contact_id=contact.pk).first() or PurchaseStats()
        assert [getattr(contact, c) for c in PURCHASE_COLUMNS] == [getattr(row, c) for c in PURCHASE_COLUMNS]
    for contact_id in contacts:
        order_stats.purchase_stats_recompute(contact_id=contact_id)
    recomputed = {s.contact_id: [getattr(s, f) for f in fields] for s in PurchaseStats.objects.all()}
    for contact_id, values in recomputed.items():
        if contact_id not in incremental:
            assert values[0] == 0 and values[7] == {}, values
        else:
            assert incremental[contact_id] == values


def test_recompute_all_command_restores_damaged_stats(make_contact: Any) -> None:
    from django.core.management import call_command

    contact = make_contact()
    orders.order_record(actor=SYSTEM, data={"order_id": "1", "total": 100}, contact_id=contact.pk)
    orders.order_record(actor=SYSTEM, data={"order_id": "2", "total": 300}, contact_id=contact.pk)
    PurchaseStats.objects.filter(contact=contact).update(order_count=99, total_spent=1)
    Contact.objects.filter(pk=contact.pk).update(order_count=7, total_spent=1)
    call_command("orders_recompute_stats", verbosity=0)
    stats = PurchaseStats.objects.get(contact=contact)
    assert (stats.order_count, stats.total_spent, stats.average_order_value) == (2, 400, 200)
    contact.refresh_from_db()
    assert (contact.order_count, contact.total_spent, contact.average_order_value) == (2, 400, 200)


def test_a_contact_saved_from_a_stale_copy_keeps_its_purchase_figures(make_contact: Any) -> None:
    contact = make_contact()
    stale = Contact.objects.get(pk=contact.pk)
    orders.order_record(actor=SYSTEM, data={"order_id": "1", "total": 250}, contact_id=contact.pk)
    stale.job_title = "Kế toán"
    stale.save()
    contact.refresh_from_db()
    assert (contact.job_title, contact.order_count, contact.total_spent) == ("Kế toán", 1, 250)


def test_demo_data_has_orders_with_consistent_metrics() -> None:
    from danhba.core.demo import demo_run as demo_load

    result = demo_load(contacts=60, seed=3)
    assert result["orders"] == Order.objects.count() > 0
    assert Product.objects.exists() and OrderLine.objects.exists()
    fields = ["order_count", "total_spent", "average_order_value", "first_order_at", "last_order_at", "categories"]
    copies = {c.pk: [getattr(c, f) for f in PURCHASE_COLUMNS] for c in Contact.objects.all()}
    for stats in PurchaseStats.objects.all():
        before = [getattr(stats, f) for f in fields]
        after = order_stats.purchase_stats_recompute(contact_id=stats.contact_id)
        assert after is not None and before == [getattr(after, f) for f in fields]
        assert copies.pop(stats.contact_id) == [getattr(after, f) for f in PURCHASE_COLUMNS]
    assert all(values == [0, 0, 0, None, None] for values in copies.values())
