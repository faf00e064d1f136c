"""Event retention: rules by type and/or name (the most specific wins), keep-forever, the purge
(batches, dry run, the log, the job, the CLI) and the Settings → Event retention page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO
from itertools import count
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from danhba.audit.models import AuditEvent
from danhba.core.actor import Actor
from danhba.tracking import retention, tasks
from danhba.tracking.models import Event, EventPurge, EventRetention, Source
from danhba.tracking.partitions import add_months

pytestmark = pytest.mark.django_db
URL = "/settings/event-retention/"
_ids = count()


@pytest.fixture
def source(make_source: Any) -> Source:
    return make_source()[0]


@pytest.fixture
def add(source: Source) -> Any:
    def make(kind: str, name: str, months_ago: float, n: int = 1) -> list[Event]:
        when = add_months(timezone.now(), -int(months_ago)) - timedelta(days=round((months_ago % 1) * 30))
        return [
            Event.objects.create(
                source=source,
                message_id=f"e{next(_ids)}",
                type=kind,
                name=name,
                anonymous_id="a",
                timestamp=when,
                received_at=when,
            )
            for _ in range(n)
        ]

    return make


def kept() -> list[tuple[str, str]]:
    return sorted(Event.objects.values_list("type", "name"))


def rule(event_type: str = "", name: str = "", keep: int | None = None) -> EventRetention:
    found, _ = EventRetention.objects.update_or_create(event_type=event_type, name=name, defaults={"keep_months": keep})
    return found


def test_installed_rules_keep_page_and_screen_views_13_months_and_the_rest_forever() -> None:
    rules = {(r.event_type, r.name): r.keep_months for r in EventRetention.objects.all()}
    assert rules == {("", ""): None, ("page", ""): 13, ("screen", ""): 13}


def test_the_most_specific_rule_decides(add: Any) -> None:
    rule("track", "", 6)
    rule("", "Signed Up", 1)
    rule("track", "Signed Up", 24)
    rule("", "Newsletter", 2)
    add("page", "Home", 14)  # page: 13 months → deleted
    add("page", "Home", 12)  # kept
    add("track", "Signed Up", 12)  # type+name: 24 months → kept
    add("track", "Clicked", 7)  # track: 6 months → deleted
    add("identify", "", 40)  # default: forever → kept
    add("screen", "Newsletter", 3)  # name (2) beats type (13) → deleted
    add("page", "Newsletter", 1)  # kept
    # Rules that name an event are counted exactly everywhere, the others on SQLite.
    previews = {p.rule.label: p.count for p in retention.retention_preview() if p.exact}
    report = retention.events_purge(actor=Actor.system("job"))
    assert kept() == [("identify", ""), ("page", "Home"), ("page", "Newsletter"), ("track", "Signed Up")]
    deleted = {r["label"]: r["deleted"] for r in report.rules}
    assert deleted["Page"] == 1 and deleted["Track"] == 1 and deleted["“Newsletter”"] == 1
    assert deleted["All other events"] == 0 and report.deleted == 3
    assert previews == {label: n for label, n in deleted.items() if label in previews}
    assert "“Newsletter”" in previews


def test_dry_run_counts_exactly_and_changes_nothing(add: Any) -> None:
    add("page", "Home", 20, n=3)
    add("page", "Home", 1)
    out = StringIO()
    call_command("events", "purge", "--dry-run", stdout=out)
    assert "would delete 3 events" in out.getvalue() and Event.objects.count() == 4
    assert not EventPurge.objects.exists()
    call_command("events", "purge", stdout=(out := StringIO()))
    assert "total: deleted 3 events" in out.getvalue() and Event.objects.count() == 1


def test_keep_forever_deletes_nothing(add: Any) -> None:
    rule("page", "", None)
    rule("screen", "", None)
    add("page", "Home", 200)
    add("screen", "Cart", 100)
    add("track", "Old", 300)
    assert all(p.count == 0 and p.cutoff is None for p in retention.retention_preview())
    assert retention.events_purge(actor=Actor.system("job")).deleted == 0
    assert Event.objects.count() == 3


def test_the_purge_works_in_batches_and_keeps_a_log_and_an_audit_row(add: Any, settings: Any) -> None:
    settings.EVENT_PURGE_BATCH = 2
    rule("", "", 3)
    add("track", "A", 4, n=5)
    add("identify", "", 5, n=2)
    add("track", "A", 2)
    tasks.events_purge_job.call_local()
    assert kept() == [("track", "A")]
    run = EventPurge.objects.get()
    assert run.finished_at and run.deleted == 7 and run.via == "job"
    assert {r["label"]: r["deleted"] for r in run.details["rules"]}["All other events"] == 7
    audit = AuditEvent.objects.get(object_type="event", action="delete")
    assert audit.changes["deleted"] == 7


def test_purged_events_leave_the_month_boundary_alone(add: Any) -> None:
    rule("track", "", 1)
    add("track", "Edge", 0.9)
    add("track", "Edge", 1.2)
    assert retention.events_purge(actor=Actor.system("job")).deleted == 1
    assert Event.objects.count() == 1


def test_add_months_clamps_the_day() -> None:
    assert add_months(datetime(2026, 3, 31, 12, tzinfo=UTC), -1) == datetime(2026, 2, 28, 12, tzinfo=UTC)
    assert add_months(datetime(2024, 1, 31, tzinfo=UTC), 1).day == 29
    assert add_months(datetime(2026, 1, 15, tzinfo=UTC), -13) == datetime(2024, 12, 15, tzinfo=UTC)


# --- the settings page ------------------------------------------------------------------------


def test_admin_sees_rules_with_what_the_next_run_deletes(client_for: Any, admin: Any, add: Any) -> None:
    add("page", "Home", 15, n=2)
    page = client_for(admin).get(URL)
    assert page.status_code == 200
    text = page.content.decode()
    assert "All other events" in text and "Event retention" in text and "kept forever" in text
    row = text[text.index("<strong>Page</strong>") :]
    assert ">2<" in row[: row.index("</tr>")].replace(" ", "") or "≈" in row[: row.index("</tr>")]


@pytest.mark.parametrize("role", ["marketing", "sales", "support", "analyst"])
def test_other_roles_may_not_see_or_change_retention(client_for: Any, users: Any, role: str) -> None:
    client = client_for(users[role])
    assert client.get(URL).status_code == 403
    assert client.post(URL + "new/", {"event_type": "track", "keep_months": "1"}).status_code == 403
    default = EventRetention.objects.get(event_type="", name="")
    assert client.post(f"{URL}{default.pk}/", {"keep_months": "1"}).status_code == 403
    assert EventRetention.objects.get(pk=default.pk).keep_months is None


def test_anonymous_visitors_are_sent_to_login(client: Any) -> None:
    response = client.get(URL)
    assert response.status_code == 302 and "login" in response["Location"]


def test_admin_adds_changes_and_deletes_a_rule(client_for: Any, admin: Any) -> None:
    client = client_for(admin)
    response = client.post(URL + "new/", {"event_type": "track", "name": "  Signed Up ", "keep_months": "24"})
    assert response.status_code == 302
    created = EventRetention.objects.get(event_type="track", name="Signed Up")
    assert created.keep_months == 24
    assert client.post(f"{URL}{created.pk}/", {"keep_months": ""}).status_code == 302
    created.refresh_from_db()
    assert created.keep_months is None
    assert client.post(f"{URL}{created.pk}/delete/").status_code == 302
    assert not EventRetention.objects.filter(pk=created.pk).exists()
    actions = list(
        AuditEvent.objects.filter(object_type="event_retention").order_by("id").values_list("action", flat=True)
    )
    assert actions == ["create", "update", "delete"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"event_type": "track", "keep_months": "0"}, "greater than or equal to 1"),
        ({"event_type": "track", "keep_months": "1201"}, "less than or equal to 1200"),
        ({"event_type": "track", "keep_months": "soon"}, "Enter a whole number"),
        ({"event_type": "launch", "keep_months": "3"}, "Select a valid choice"),
        ({"event_type": "", "name": "", "keep_months": "3"}, "the default rule already exists"),
        ({"event_type": "page", "name": "", "keep_months": "3"}, "already exists"),
        ({"event_type": "track", "name": "x" * 201}, "at most 200 characters"),
    ],
)
def test_bad_rules_are_refused_with_a_reason(client_for: Any, admin: Any, data: dict[str, str], message: str) -> None:
    before = EventRetention.objects.count()
    response = client_for(admin).post(URL + "new/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert EventRetention.objects.count() == before


def test_the_default_rule_cannot_be_deleted_and_bad_months_are_refused(client_for: Any, admin: Any) -> None:
    client = client_for(admin)
    default = EventRetention.objects.get(event_type="", name="")
    response = client.post(f"{URL}{default.pk}/delete/")
    assert response.status_code == 400 and "cannot be deleted" in response.content.decode()
    response = client.post(f"{URL}{default.pk}/", {"keep_months": "-3"})
    assert response.status_code == 400 and "greater than or equal to 1" in response.content.decode()
    assert client.post(f"{URL}999999/", {"keep_months": "3"}).status_code == 404
    assert client.get(f"{URL}{default.pk}/delete/").status_code == 405
    assert EventRetention.objects.filter(pk=default.pk, keep_months=None).exists()


def test_the_page_lists_recent_purges(client_for: Any, admin: Any, add: Any) -> None:
    add("page", "Home", 20, n=2)
    retention.events_purge(actor=Actor.system("job"))
    text = client_for(admin).get(URL).content.decode()
    assert "Recent purges" in text and "Page: 2" in text


def test_purging_events_leaves_orders_and_purchase_stats_alone(post: Any) -> None:
    from danhba.orders.models import Order, PurchaseStats

    rule("track", "", 1)
    body = {
        "type": "track", "event": "Order Completed", "userId": "buyer-1", "messageId": "order-msg",
        "timestamp": add_months(timezone.now(), -3).isoformat(),
        "properties": {"order_id": "OLD-1", "total": 120000, "currency": "VND",
                       "products": [{"product_id": "SKU-9", "name": "Trà", "quantity": 1, "price": 120000}]},
    }  # fmt: skip
    assert post("/v1/track", body).json()["accepted"] == 1
    stats_before = PurchaseStats.objects.values().get()
    assert retention.events_purge(actor=Actor.system("job")).deleted == 1
    assert not Event.objects.filter(message_id="order-msg").exists()
    assert Order.objects.get(order_id="OLD-1").lines.count() == 1
    assert PurchaseStats.objects.values().get() == stats_before
