"""Lead assignment: rules by priority with conditions, round robin that skips absent reps,
workload with a capacity, new leads from an import shared out per batch (one notice per rep),
a leaving rep's open items handed over (preview, then the move, audited), and the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from danhba.accounts.models import Team
from danhba.accounts.services import user_update
from danhba.audit.models import AuditEvent
from danhba.conftest import actor_for
from danhba.contacts.models import Contact
from danhba.sales.models import Absence, Assignment, AssignmentRule, Deal, Notification, Task
from danhba.sales.services import assignment as A
from danhba.sales.services import rules as R

pytestmark = pytest.mark.django_db
PROVINCE_HN = {"op": "all", "conditions": [{"kind": "field", "field": "province", "operator": "eq", "value": "ha-noi"}]}


@pytest.fixture
def south(make_user: Any) -> dict[str, Any]:
    team = Team.objects.create(name="Miền Nam")
    reps = [make_user("sales", full_name=name, team=team) for name in ("An", "Bảo", "Cúc")]
    return {"team": team, "reps": reps}


@pytest.fixture
def north(make_user: Any) -> dict[str, Any]:
    team = Team.objects.create(name="Miền Bắc")
    reps = [make_user("sales", full_name=name, team=team) for name in ("Dũng", "Hoa")]
    return {"team": team, "reps": reps}


def owner_of(contact: Any) -> int | None:
    return Contact.objects.get(pk=contact.pk).owner_id


def test_rules_in_priority_with_conditions_and_round_robin_skipping_absent_reps(
    admin: Any, south: Any, north: Any, make_contact: Any
) -> None:
    me = actor_for(admin)
    R.rule_create(actor=me, data={"name": "Phía Bắc", "team_id": north["team"].pk, "condition": PROVINCE_HN})
    R.rule_create(actor=me, data={"name": "Còn lại", "team_id": south["team"].pk})
    an, bao, cuc = south["reps"]
    dung, hoa = north["reps"]
    R.absence_add(actor=actor_for(bao), user=bao, data={"note": "Nghỉ ốm"})  # absent now
    hn = [make_contact(full_name=f"HN {i}", province="Hà Nội") for i in range(3)]
    hcm = [make_contact(full_name=f"HCM {i}", province="Hồ Chí Minh") for i in range(3)]
    assert [owner_of(c) for c in hn] == [dung.pk, hoa.pk, dung.pk]
    assert [owner_of(c) for c in hcm] == [an.pk, cuc.pk, an.pk]
    # Back: Bảo takes his turn again, after An (the pointer was kept in the rule row).
    R.absence_end(actor=actor_for(bao), user=bao)
    assert owner_of(make_contact(full_name="HCM 4")) == bao.pk
    # A planned leave in the future does not skip him now.
    later = timezone.now() + dt.timedelta(days=3)
    R.absence_add(actor=actor_for(admin), user=cuc, data={"starts_at": later, "ends_at": later + dt.timedelta(days=1)})
    assert owner_of(make_contact(full_name="HCM 5")) == cuc.pk


def test_workload_gives_the_least_loaded_rep_and_capacity_stops_at_the_limit(
    admin: Any, south: Any, make_contact: Any
) -> None:
    an, bao, cuc = south["reps"]
    for _n in range(2):
        make_contact(full_name="Của An", owner=an.pk)
    make_contact(full_name="Của Bảo", owner=bao.pk)
    R.rule_create(actor=actor_for(admin), data={"name": "Ít việc", "team_id": south["team"].pk, "method": "workload",
                                                 "capacity": 2})  # fmt: skip
    new = [make_contact(full_name=f"Mới {i}") for i in range(4)]
    # Cúc (0) gets two, Bảo (1) one; then everyone holds 2: the last lead keeps no owner.
    assert [owner_of(c) for c in new] == [cuc.pk, bao.pk, cuc.pk, None]
    assert Contact.objects.filter(owner=an).count() == 2


def test_an_import_is_shared_out_per_batch_with_one_notice_per_rep(
    admin: Any, south: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from danhba.ingest.tests.test_load import run_import

    R.rule_create(actor=actor_for(admin), data={"name": "Mọi khách", "team_id": south["team"].pk})
    calls = []
    real = A.plan

    def spy(ids: Any, **kw: Any) -> Any:
        calls.append(len(ids))
        return real(ids, **kw)

    monkeypatch.setattr(A, "plan", spy)
    rows = "\n".join(f"Khách {i},khach{i}@example.vn" for i in range(30))
    run = run_import(f"Họ và tên,Email\n{rows}\n".encode(), name="leads.csv")
    assert run.created == 30
    assert calls == [30]  # one plan for the batch, not 30
    per_rep = [Contact.objects.filter(owner=rep).count() for rep in south["reps"]]
    assert per_rep == [10, 10, 10]
    assert [Notification.objects.filter(user=rep).count() for rep in south["reps"]] == [1, 1, 1]
    assert "10" in Notification.objects.filter(user=south["reps"][0]).get().text


def test_an_import_of_several_batches_gives_each_rep_one_notice_and_one_email_with_the_total(
    admin: Any, south: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from danhba.ingest.tests.test_load import run_import

    emails: list[tuple[str, str]] = []
    monkeypatch.setattr(A, "send_email", lambda to, subject, url, body="": emails.append((to, subject)))

    settings.IMPORT_BATCH_ROWS = 10  # three batches of ten rows
    R.rule_create(actor=actor_for(admin), data={"name": "Mọi khách", "team_id": south["team"].pk})
    rows = "\n".join(f"Khách {i},khach{i}@example.vn" for i in range(30))
    run = run_import(f"Họ và tên,Email\n{rows}\n".encode(), name="leads.csv")
    assert run.created == 30
    assert [Contact.objects.filter(owner=rep).count() for rep in south["reps"]] == [10, 10, 10]
    for rep in south["reps"]:
        notices = list(Notification.objects.filter(user=rep))
        assert len(notices) == 1 and notices[0].text == "10 new leads for you"
        assert [subject for to, subject in emails if to == rep.email] == ["10 new leads for you"]


def test_a_rep_who_leaves_hands_contacts_deals_and_tasks_over_with_a_preview_and_an_audit_row(
    admin: Any, south: Any, make_contact: Any, make_deal: Any
) -> None:
    an, bao, cuc = south["reps"]
    me = actor_for(admin)
    R.rule_create(actor=me, data={"name": "Miền Nam", "team_id": south["team"].pk})
    leads = [make_contact(full_name=f"Khách {i}", owner=an.pk) for i in range(4)]
    deal = make_deal(title="Máy lọc nước", primary_contact_id=leads[0].pk, owner_id=an.pk)
    task = Task.objects.create(title="Gọi lại", owner=an, contact=leads[1], due_at=timezone.now())
    preview = R.handover_preview(actor=me, rep=an)
    rows = {r["user_id"]: r for r in preview.summary()}
    assert set(rows) == {bao.pk, cuc.pk}
    assert sum(r["contacts"] for r in rows.values()) == 4 and sum(r["deals"] for r in rows.values()) == 1
    assert owner_of(leads[0]) == an.pk  # a preview changes nothing
    # Deactivating the rep hands everything over by the rules, as the preview said.
    user_update(actor=me, user=an, data={"is_active": False})
    after = [owner_of(c) for c in leads]
    assert an.pk not in after and set(after) == {bao.pk, cuc.pk}
    deal.refresh_from_db()
    task.refresh_from_db()
    assert deal.owner_id == owner_of(leads[0]) and task.owner_id == owner_of(leads[1])
    row = AuditEvent.objects.get(object_type="user", object_id=str(an.pk), changes__has_key="handover")
    assert sum(r["contacts"] for r in row.changes["handover"][1]) == 4
    assert Assignment.objects.filter(via="reassign", previous=an).count() == 4
    assert Deal.objects.filter(owner=an).count() == 0


def test_a_handover_without_rules_goes_to_the_fallback_or_to_nobody(admin: Any, south: Any, make_contact: Any) -> None:
    an, bao, _cuc = south["reps"]
    lead = make_contact(full_name="Khách lẻ", owner=an.pk)
    R.handover(actor=actor_for(admin), rep=an, data={"fallback_user_id": bao.pk})
    assert owner_of(lead) == bao.pk
    R.handover(actor=actor_for(admin), rep=bao)
    assert owner_of(lead) is None


def test_only_a_manager_sets_someone_elses_absence(users: Any, south: Any) -> None:
    from danhba.core.errors import PermissionDenied

    an, bao, _cuc = south["reps"]
    with pytest.raises(PermissionDenied):
        R.absence_add(actor=actor_for(an), user=bao, data={})
    R.absence_add(actor=actor_for(users["admin"]), user=bao, data={})
    assert A.absent_ids([an.pk, bao.pk], timezone.now()) == {bao.pk}


# --- the API -------------------------------------------------------------------------------------


def test_api_rules_absences_and_handover(client_for: Any, admin: Any, south: Any, make_contact: Any) -> None:
    an, bao, cuc = south["reps"]
    api = client_for(admin)
    url = "/api/sales/assignment"
    body = {"name": "Hà Nội trước", "team_id": south["team"].pk, "condition": PROVINCE_HN, "capacity": 50,
            "member_ids": [an.pk, bao.pk]}  # fmt: skip
    first = api.post(f"{url}/rules", body, content_type="application/json")
    assert first.status_code == 201, first.content
    assert first.json()["member_ids"] == sorted([an.pk, bao.pk]) and first.json()["capacity"] == 50
    second = api.post(f"{url}/rules", {"name": "Còn lại", "team_id": south["team"].pk}, content_type="application/json")
    assert second.status_code == 201
    moved = api.post(f"{url}/rules/{second.json()['id']}/move", {"step": -1}, content_type="application/json")
    assert [r["name"] for r in moved.json()["items"]] == ["Còn lại", "Hà Nội trước"]
    patch = api.patch(f"{url}/rules/{first.json()['id']}", {"is_active": False}, content_type="application/json")
    assert patch.status_code == 200 and patch.json()["is_active"] is False
    bad = api.post(f"{url}/rules", {"name": "", "team_id": 999999, "method": "random"}, content_type="application/json")
    assert bad.status_code == 422
    bad_tree = {"name": "x", "team_id": south["team"].pk, "condition": {"op": "all", "conditions": [{"kind": "nope"}]}}
    assert api.post(f"{url}/rules", bad_tree, content_type="application/json").status_code == 422
    away = api.post(f"{url}/absences", {"user_id": cuc.pk, "note": "Phép năm"}, content_type="application/json")
    assert away.status_code == 201 and away.json()["ends_at"] is None
    assert [a["user_id"] for a in api.get(f"{url}/absences").json()["items"]] == [cuc.pk]
    backwards = {"starts_at": "2026-12-10T08:00:00+07:00", "ends_at": "2026-12-09T08:00:00+07:00"}
    assert api.post(f"{url}/absences", backwards, content_type="application/json").status_code == 422
    assert api.post(f"{url}/absences/back", {"user_id": cuc.pk}, content_type="application/json").status_code == 204
    lead = make_contact(full_name="Của An", owner=an.pk)
    preview = api.post(f"{url}/handover/{an.pk}/preview", {}, content_type="application/json")
    assert preview.status_code == 200 and preview.json()["applied"] is False
    assert owner_of(lead) == an.pk
    done = api.post(f"{url}/handover/{an.pk}", {}, content_type="application/json")
    assert done.status_code == 200 and owner_of(lead) in {bao.pk, cuc.pk}
    history = api.get(f"{url}/history", {"contact_id": lead.pk}).json()["items"]
    assert history[0]["via"] == "reassign" and history[0]["previous_id"] == an.pk
    assert api.delete(f"{url}/rules/{first.json()['id']}").status_code == 204


def test_api_a_rep_reads_rules_sets_only_their_own_absence_and_cannot_hand_over(
    client_for: Any, south: Any, admin: Any
) -> None:
    an, bao, _cuc = south["reps"]
    api = client_for(an)
    url = "/api/sales/assignment"
    assert api.get(f"{url}/rules").status_code == 200
    assert api.post(f"{url}/rules", {"name": "x", "team_id": south["team"].pk},
                    content_type="application/json").status_code == 403  # fmt: skip
    assert api.post(f"{url}/absences", {}, content_type="application/json").status_code == 201
    assert api.post(f"{url}/absences", {"user_id": bao.pk}, content_type="application/json").status_code == 403
    assert api.post(f"{url}/handover/{bao.pk}/preview", {}, content_type="application/json").status_code == 403
    assert Absence.objects.filter(user=an).count() == 1


def test_two_rules_sharing_one_batch_never_give_a_contact_twice(
    admin: Any, south: Any, north: Any, make_contact: Any
) -> None:
    ids = [make_contact(full_name=f"K{i}").pk for i in range(5)]
    me = actor_for(admin)
    R.rule_create(actor=me, data={"name": "A", "team_id": north["team"].pk})
    R.rule_create(actor=me, data={"name": "B", "team_id": south["team"].pk})
    result = A.assign(ids)
    assert set(result.owners) == set(ids)
    assert set(result.owners.values()) <= {u.pk for u in north["reps"]}
    assert AssignmentRule.objects.get(name="A").last_user_id is not None
