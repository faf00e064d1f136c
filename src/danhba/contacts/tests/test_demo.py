"""The demo dataset: realistic, normalised, searchable, and consistent with what services write."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
from django.db.models import Max

from danhba.accounts.models import User
from danhba.audit.models import AuditEvent
from danhba.conftest import module_data
from danhba.contacts import selectors
from danhba.contacts.demo import PeopleGenerator
from danhba.contacts.models import (
    Company,
    Contact,
    ContactCompany,
    ContactEmail,
    ContactPhone,
    ContactTag,
    SearchEntry,
    TimelineEntry,
)
from danhba.contacts.search import SearchDoc, search_row
from danhba.contacts.search import search_index as search_keys_rebuild
from danhba.core.demo import demo_run as demo_load
from danhba.core.normalize import fold, normalize_email, normalize_phone
from danhba.privacy.models import ConsentRecord, ConsentState

N = 200


@pytest.fixture(scope="module")
def demo_once(django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[dict[str, Any]]:
    """One demo for the module's tests that only read it (loading it is the slow part)."""
    with module_data(django_db_blocker, tmp_path_factory):
        yield demo_load(contacts=N, seed=7)


@pytest.fixture
def loaded(demo_once: dict[str, Any], db: Any) -> dict[str, Any]:
    return demo_once


def _findable(user: User, query: str, contact_id: int) -> bool:
    """Walk the search result pages until the contact shows up (a common name fills many pages)."""
    cursor = None
    for _ in range(50):
        page = selectors.contact_page(user, selectors.ContactFilters(q=query), cursor=cursor, limit=200)
        if any(c.pk == contact_id for c in page.items):
            return True
        if not page.next_cursor:
            return False
        cursor = page.next_cursor
    return False


def test_counts_match_the_summary(loaded: dict[str, Any]) -> None:
    assert Contact.objects.count() == loaded["contacts"] == N
    assert Company.objects.count() == loaded["companies"] == 10
    assert ContactEmail.objects.count() == loaded["emails"] > N * 0.8
    assert ContactPhone.objects.count() == loaded["phones"] > N * 0.8
    assert ContactTag.objects.count() == loaded["tag_links"] > 0
    assert ContactCompany.objects.count() == loaded["company_links"] > 0
    assert TimelineEntry.objects.count() == loaded["timeline_entries"] >= N
    assert ConsentRecord.objects.count() == loaded["consent_records"] > 0
    assert SearchEntry.objects.count() == loaded["search_keys"] == N  # one entry per contact
    roles = sorted(User.objects.values_list("role__key", flat=True))
    assert roles == ["analyst", "marketing", "sales", "sales", "support"]
    assert loaded["password"] and User.objects.get(email="sales1@example.com").check_password(loaded["password"])
    # Owners are the sales reps or nobody; every stage is used.
    owners = set(Contact.objects.exclude(owner=None).values_list("owner__role__key", flat=True))
    assert owners == {"sales"}
    assert Contact.objects.filter(owner=None).exists()
    assert Contact.objects.values("lifecycle_stage").distinct().count() >= 6
    # Each contact has 1–6 timeline entries and last_activity_at is the latest of them.
    latest = dict(TimelineEntry.objects.values("contact").annotate(m=Max("occurred_at")).values_list("contact", "m"))
    assert len(latest) == N
    for cid, last_activity in Contact.objects.values_list("pk", "last_activity_at"):
        assert last_activity == latest[cid]
    # One summary line in the audit log, not one per contact or event (besides what the demo
    # makes through the apps' services, as a user would: segments, the two event sources, score
    # models and rules, the pipeline, its deals and tasks, web forms and the consents their
    # submissions give, the hot-lead workflow and its tag).
    through_services = (
        "segment",
        "source",
        "score_model",
        "score_rule",
        "pipeline",
        "stage",
        "deal",
        "task",
        "assignment_rule",
        "webform",
        "consent",
        "workflow",
        "tag",
    )
    # The demo's active workflow (automation/demo.py) writes to the contacts it walks as the
    # engine does: one audit row per contact it updates, by the system's job.
    rows = AuditEvent.objects.exclude(object_type__in=through_services).exclude(object_type="contact", via="job")
    assert list(rows.values_list("object_type", "via", "action")) == [("demo", "cli", "create")]
    assert AuditEvent.objects.filter(object_type="source").count() == 2


def test_demo_segments_hold_what_their_conditions_match(loaded: dict[str, Any]) -> None:
    from danhba.segments.compiler import matching
    from danhba.segments.demo import DEMO_SEGMENTS
    from danhba.segments.models import Segment

    assert loaded["segments"] == Segment.objects.count() == len(DEMO_SEGMENTS) + 2
    for segment in Segment.objects.filter(kind="dynamic"):
        expected = set(matching(segment.conditions).values_list("pk", flat=True))
        assert set(segment.members.values_list("contact_id", flat=True)) == expected
        assert segment.member_count == len(expected)
    assert all(s.member_count > 0 for s in Segment.objects.filter(kind="static"))


def test_text_is_normalised_and_denormalised_columns_match(loaded: dict[str, Any]) -> None:
    contacts = Contact.objects.prefetch_related("emails", "phones")
    unaccented = 0
    for contact in contacts:
        assert unicodedata.is_normalized("NFC", contact.full_name)
        assert contact.name_key == fold(contact.full_name)
        assert " ".join(p for p in (contact.family_name, contact.middle_name, contact.given_name) if p) == (
            contact.full_name
        )
        unaccented += contact.full_name == fold(contact.full_name).title()
        emails = list(contact.emails.all())
        phones = list(contact.phones.all())
        assert emails or phones
        for e in emails:
            assert e.email == normalize_email(e.email) == e.email.lower()
        for p in phones:
            assert normalize_phone(p.raw).e164 == p.e164 and p.e164.startswith("+84")
        assert contact.email == next((e.email for e in emails if e.is_primary), "")
        assert contact.phone == next((p.e164 for p in phones if p.is_primary), "")
        assert sum(e.is_primary for e in emails) == (1 if emails else 0)
    # About a tenth of the names are typed without diacritics.
    assert 0.03 * N < unaccented < 0.25 * N
    assert (
        ContactCompany.objects.filter(is_primary=True).count()
        == ContactCompany.objects.values("contact").distinct().count()
    )


def test_every_contact_is_found_by_unaccented_name_and_by_phone(loaded: dict[str, Any]) -> None:
    admin = User.objects.get(email="marketing@example.com")  # sees every record
    for contact in Contact.objects.all():
        assert _findable(admin, fold(contact.full_name), contact.pk), contact.full_name
        if contact.phone:
            national = "0" + contact.phone[3:]
            assert _findable(admin, f"{national[:4]} {national[4:7]} {national[7:]}", contact.pk), contact.phone
            assert _findable(admin, contact.phone, contact.pk)


def test_consent_state_is_the_latest_record(loaded: dict[str, Any]) -> None:
    latest: dict[tuple[int, int], ConsentRecord] = {}
    for record in ConsentRecord.objects.order_by("recorded_at", "id"):
        latest[(record.contact_id, record.purpose_id)] = record
    states = {(s.contact_id, s.purpose_id): s for s in ConsentState.objects.all()}
    assert set(states) == set(latest)
    for key, state in states.items():
        assert (state.status, state.since, state.record_id) == (
            latest[key].status,
            latest[key].recorded_at,
            latest[key].pk,
        )
    assert ConsentState.objects.filter(status="withdrawn").exists()
    assert ConsentState.objects.filter(status="granted").exists()


def test_bulk_search_entries_equal_search_index(loaded: dict[str, Any]) -> None:
    def snapshot() -> dict[int, tuple[str, ...]]:
        columns = ("contact_id", "name", "company", "email", "phone")
        return {row[0]: row for row in SearchEntry.objects.values_list(*columns)}

    bulk = snapshot()
    assert len(bulk) == Contact.objects.count()
    search_keys_rebuild(list(Contact.objects.values_list("pk", flat=True)))
    assert snapshot() == bulk


def test_generator_rows_are_what_the_normalisers_produce() -> None:
    """The bench writes generator rows without calling the normalisers: they must already agree."""
    gen = PeopleGenerator(seed=11, n_companies=20)
    for _ in range(500):
        person = gen.person()
        for email in person.emails:
            assert normalize_email(email) == email
        for phone in person.phones:
            assert normalize_phone(phone.raw).e164 == phone.e164
    doc = SearchDoc(7, "Lê Thị Hoa", ["Hoa@example.com"], ["+84912345678", "+84912345678"], ["Công ty ABC"])
    assert search_row(doc) == (7, "le thi hoa", "cong ty abc", "hoa@example.com", "8765432190")


def test_same_seed_same_people() -> None:
    a, b = PeopleGenerator(seed=3, n_companies=5), PeopleGenerator(seed=3, n_companies=5)
    assert [a.person().full_name for _ in range(50)] == [b.person().full_name for _ in range(50)]
