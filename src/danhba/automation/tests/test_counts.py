"""The per-step counters the writes keep (``services/counts.py``) equal a recount from the
StepRuns and enrolments — the way the diagram counted before — after waits, branches, errors,
retries, failures, goals and re-enrolment; the PostgreSQL workers' test checks them too."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest

from danhba.automation.models import Enrolment
from danhba.automation.selectors import step_counts, step_counts_kept, step_counts_recount
from danhba.automation.services import engine
from danhba.automation.services.enrolments import enrol_manual
from danhba.automation.tests.conftest import HOUR, T0, tag_is, three_steps
from danhba.conftest import actor_for

pytestmark = pytest.mark.django_db


# What the counters should hold, and the counters alone.
recount, kept = step_counts_recount, step_counts_kept


def test_the_counters_equal_a_recount(admin: Any, make_workflow: Any, make_contact: Any) -> None:
    from danhba.contacts.services.contacts import contacts_bulk_update
    from danhba.segments.services import segment_create

    me = actor_for(admin)
    doomed = segment_create(actor=me, name="Danh sách", kind="static")
    graph = three_steps()
    graph["steps"]["tag_rest"]["next"] = "listed"
    graph["steps"]["listed"] = {"kind": "list", "params": {"list": doomed.pk}}
    graph["goal"] = tag_is("won")
    wf = make_workflow(graph=graph, reenrol="again")
    people = [make_contact(full_name=f"Người {i}", tags=["vip"] if i % 3 == 0 else []).pk for i in range(9)]
    version = wf.current_version
    enrol_manual(actor=me, workflow=wf, contact_ids=people, now=T0)
    assert kept(version) == recount(version) == {"title": {"entered": 9}}
    engine.run_due(now=T0)
    assert kept(version) == recount(version)
    contacts_bulk_update(actor=me, contact_ids=people[:2], add_tags=["won"])  # goal: they leave at the wait
    doomed.delete()  # the list step fails: retried, then the enrolments fail
    moment = T0 + HOUR
    for _ in range(8):
        engine.run_due(now=moment)
        assert kept(version) == recount(version)
        moment += 6 * HOUR
    statuses = set(Enrolment.objects.filter(workflow=wf).values_list("status", flat=True))
    assert statuses == {"goal", "completed", "failed"}
    # Enrolled again (the workflow re-enrols): a second pass adds to the same steps.
    enrol_manual(actor=me, workflow=wf, contact_ids=people[:3], now=moment)
    engine.run_due(now=moment)
    assert kept(version) == recount(version)
    assert kept(version)["title"]["entered"] == 12


def test_the_migration_fills_the_counters_as_recounted(admin: Any, make_workflow: Any, make_contact: Any) -> None:
    import importlib

    from django.apps import apps

    from danhba.automation.models import StepCount

    wf = make_workflow()
    people = [make_contact(full_name=f"Người {i}", tags=["vip"] if i % 2 else []).pk for i in range(4)]
    enrol_manual(actor=actor_for(admin), workflow=wf, contact_ids=people, now=T0)
    engine.run_due(now=T0)
    engine.run_due(now=T0 + HOUR)
    enrol_manual(actor=actor_for(admin), workflow=wf, contact_ids=[make_contact(full_name="Muộn").pk], now=T0 + HOUR)
    version = wf.current_version
    expected = recount(version)
    StepCount.objects.all().delete()
    importlib.import_module("danhba.automation.migrations.0003_step_counts").backfill(apps, None)
    assert kept(version) == expected and expected["title"] == {"entered": 5, "done": 4}


def _group_writes(sql: list[str]) -> list[list[str]]:
    """The writes of each outermost transaction among ``sql`` (the test's own transaction is
    open: its savepoints stand for them), in the order they ran."""
    groups: list[list[str]] = []
    depth = 0
    for statement in sql:
        # Django records an executemany as "<n> times <sql>".
        statement = re.sub(r"^\s*\d+ times ", "", statement)
        head = statement.lstrip().upper()
        if head.startswith("SAVEPOINT"):
            depth += 1
            if depth == 1:
                groups.append([])
        elif head.startswith(("RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
            depth -= 1
        elif depth and (head.startswith(("INSERT", "UPDATE", "DELETE")) or " FOR UPDATE" in head):
            groups[-1].append(statement)
    return groups


def test_a_transaction_adds_to_the_counters_once_at_its_end(admin: Any, make_workflow: Any, make_contact: Any) -> None:
    """The counter rows are locked last, in one statement, whatever the transaction enrolled on
    the way (a trigger fired by the step, an enrol step): a transaction holding contact locks
    never waits for a counter row another holds while that one waits for its contacts."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    target = make_workflow(graph=three_steps(), name="Đích")
    titled = make_workflow(
        graph=three_steps(), name="Theo chức danh", trigger={"kind": "field_changed", "field": "job_title"}
    )
    graph = three_steps()
    graph["steps"]["title"]["next"] = "enrol"
    graph["steps"]["enrol"] = {"kind": "enrol", "params": {"workflow": target.pk}, "next": "pause"}
    wf = make_workflow(graph=graph, name="Nguồn")
    people = [make_contact(full_name=f"Người {i}").pk for i in range(3)]
    enrol_manual(actor=actor_for(admin), workflow=wf, contact_ids=people, now=T0)
    with CaptureQueriesContext(connection) as queries:
        engine.run_due(now=T0)
    groups = [g for g in _group_writes([q["sql"] for q in queries.captured_queries]) if g]
    counting = [g for g in groups if any("automation_stepcount" in s for s in g)]
    assert counting, "the engine's transactions add to the counters"
    for writes in counting:
        assert sum("automation_stepcount" in s for s in writes) == 1, writes
        assert "automation_stepcount" in writes[-1], writes
    for version in (wf.current_version, target.current_version, titled.current_version):
        assert kept(version) == recount(version)
    assert kept(target.current_version)["title"]["entered"] == 3
    assert kept(titled.current_version)["title"]["entered"] == 3


def test_what_a_rolled_back_savepoint_added_is_not_written(make_workflow: Any) -> None:
    from django.db import transaction

    from danhba.automation.services.counts import counts_add, counts_of
    from danhba.core.deferred import writes_at_end

    version = make_workflow().current_version
    with transaction.atomic(), writes_at_end():
        counts_add(version_id=version.pk, deltas={"title": {"entered": 2}}, shard=1)
        with contextlib.suppress(RuntimeError), transaction.atomic():
            counts_add(version_id=version.pk, deltas={"title": {"entered": 5}}, shard=1)
            raise RuntimeError("the step failed: its savepoint rolls back")
        counts_add(version_id=version.pk, deltas={"pause": {"waiting": 1}, "title": {"done": 2}}, shard=2)
        assert counts_of(version.pk) == {}, "written at the block's end"
    assert counts_of(version.pk) == {"title": {"entered": 2, "done": 2}, "pause": {"waiting": 1}}


def test_the_live_counts_read_the_partial_index_of_active_enrolments(make_workflow: Any) -> None:
    """ "At the step" and "retrying" count the active enrolments of a version by step from the
    partial index (version, step, attempt) WHERE status = 'active', on SQLite and PostgreSQL,
    instead of reading every enrolment the version ever had."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    version = make_workflow().current_version
    with CaptureQueriesContext(connection) as queries:
        step_counts(version)
    counts = [q["sql"] for q in queries.captured_queries if '"automation_enrolment"' in q["sql"]]
    assert len(counts) == 2
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgres:
            # The test's table is tiny: a scan of it would cost less than any index.
            cursor.execute("SET LOCAL enable_seqscan = off")
        for sql in counts:
            cursor.execute(("EXPLAIN " if postgres else "EXPLAIN QUERY PLAN ") + sql)
            plan = "\n".join(str(row[-1] if not postgres else row[0]) for row in cursor.fetchall())
            assert "automation_enrolment_at_step" in plan, plan


def test_the_event_worker_adds_to_the_counters_last_in_its_storing_transaction(
    client: Any, settings: Any, monkeypatch: Any, make_workflow: Any
) -> None:
    """One storing transaction of the event worker holds several requests: the first enrols a
    contact in a workflow (its counters), the next creates contacts. The counters are written
    once, after every other write of the transaction (review finding: the trigger listener
    wrote them when it returned, so the transaction held a counter row while it went on to lock
    contacts: on PostgreSQL a deadlock with a step group holding those contacts)."""
    import base64
    import json

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from danhba.core.actor import Actor
    from danhba.tracking import inbox, tasks
    from danhba.tracking.services.sources import source_create

    settings.EVENTS_PROCESS_INLINE = False
    monkeypatch.setattr(tasks, "process_event_inbox", lambda: None)
    wf = make_workflow(trigger={"kind": "event", "event": "Signed Up"})
    _, key = source_create(actor=Actor.system("cli"), name="Web", kind="website")
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()

    def send(messages: list[dict[str, Any]]) -> None:
        body = json.dumps({"batch": messages})
        assert (
            client.post("/v1/batch", body, content_type="application/json", HTTP_AUTHORIZATION=auth).status_code == 200
        )

    traits = {"email": "lan@example.vn", "name": "Trần Thị Lan"}
    send([
        {"type": "identify", "userId": "u1", "messageId": "a1", "traits": traits},
        {"type": "track", "event": "Signed Up", "userId": "u1", "messageId": "a2"},
    ])  # fmt: skip
    order = {"order_id": "A-1", "total": 150000, "currency": "VND",
             "products": [{"sku": "SKU-2", "name": "Bánh mì", "quantity": 1, "price": 150000}]}  # fmt: skip
    send([{"type": "track", "event": "Order Completed", "userId": "u2", "messageId": "b1", "properties": order,
           "context": {"traits": {"email": "minh@example.vn"}}}])  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        inbox.inbox_drain()
    groups = [g for g in _group_writes([q["sql"] for q in queries.captured_queries]) if g]
    storing = [g for g in groups if any("automation_stepcount" in s for s in g)]
    assert len(storing) == 1, "both requests are stored in one transaction that adds to the counters"
    writes = storing[0]
    counting = [i for i, s in enumerate(writes) if "automation_stepcount" in s]
    order_writes = [
        i for i, s in enumerate(writes) if re.search(r'^\s*(INSERT INTO|UPDATE) "(tracking_order|contacts_contact)"', s)
    ]
    assert len(counting) == 1 and order_writes, writes
    assert counting[0] > max(order_writes), "the counters come after the order's writes (and its contact locks)"
    assert kept(wf.current_version)["title"]["entered"] == 1
