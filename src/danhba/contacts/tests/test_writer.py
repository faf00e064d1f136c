"""The one bulk contact writer: the rules every writer (imports, the event worker, the demo)
gets by going through it."""

from __future__ import annotations

import os
from typing import Any

import pytest

from danhba.audit.models import AuditEvent
from danhba.conftest import actor_for
from danhba.contacts.changes import ContactsChange
from danhba.contacts.models import Contact, ContactEmail, ContactPhone, TimelineEntry
from danhba.contacts.search import search_index, search_matches, search_prefix
from danhba.contacts.writer import ContactChange, ContactWriter, Entry, NewContact

pytestmark = pytest.mark.django_db


def found(query: str) -> set[int]:
    prefix = search_prefix(query)
    assert prefix is not None
    return set(search_matches(prefix, None).values_list("contact_id", flat=True))  # type: ignore[arg-type]


def test_created_contacts_are_findable_and_announced_once(admin: Any, heard: list[ContactsChange]) -> None:
    writer = ContactWriter(actor_for(admin, "cli"))
    ids = writer.create(
        [
            NewContact(
                values={"full_name": "Nguyễn Văn Đức", "given_name": "Đức"},
                emails=[("duc@example.vn", "work"), ("duc.nguyen@gmail.com", "personal")],
                phones=[("+84912345678", "0912 345 678", "mobile", "mobile")],
                entries=[Entry(kind="note", author_id=admin.pk, subject="Met at the fair", body="Wants a quote")],
                audit={"full_name": [None, "Nguyễn Văn Đức"]},
            ),
            NewContact(
                values={"full_name": "Trần Thị Lan"}, phones=[("+84281234567", "028 1234 567", "landline", "home")]
            ),
        ],
    )
    writer.done()
    duc, lan = (Contact.objects.get(pk=pk) for pk in ids)
    assert (duc.name_key, duc.email, duc.phone) == ("nguyen van duc", "duc@example.vn", "+84912345678")
    assert ContactEmail.objects.get(email="duc@example.vn").is_primary
    assert not ContactEmail.objects.get(email="duc.nguyen@gmail.com").is_primary
    assert lan.email == "" and lan.phone == "+84281234567"
    assert found("nguyen van duc") == {duc.pk}
    assert found("0912 345 678") == {duc.pk}
    assert found("lan") == {lan.pk}
    assert TimelineEntry.objects.get(contact=duc).body == "Wants a quote"
    # One audit row for the contact that asked for one; none for the other.
    assert list(AuditEvent.objects.filter(object_type="contact").values_list("contact_id", flat=True)) == [duc.pk]
    assert len(heard) == 1 and set(heard[0].created) == {duc.pk, lan.pk}


def test_a_batch_is_audited_as_one_row_about_its_source(admin: Any) -> None:
    writer = ContactWriter(actor_for(admin, "job"))
    ids = writer.create(
        [NewContact(values={"full_name": f"Khách {i}"}) for i in range(5)], batch_of=("import", 7, "a.csv")
    )
    assert len(ids) == 5
    row = AuditEvent.objects.get()
    assert (row.object_type, row.object_id, row.object_label) == ("import", "7", "a.csv")
    assert row.changes == {"contacts_created": [None, 5]}


def test_a_change_sets_the_first_primary_and_names_fields_on_the_timeline(
    admin: Any, heard: list[ContactsChange]
) -> None:
    writer = ContactWriter(actor_for(admin, "api"))
    [cid] = writer.create([NewContact(values={"full_name": "Lê Hoa"})])
    writer.done()
    before = Contact.objects.get(pk=cid).updated_at
    writer.update(
        [
            ContactChange(
                contact_id=cid,
                label="Lê Thị Hoa",
                columns={"full_name": "Lê Thị Hoa", "middle_name": "Thị", "birthday": None},
                emails=[("hoa@example.vn", "personal")],
                changes={
                    "full_name": ["Lê Hoa", "Lê Thị Hoa"],
                    "birthday": ["1990-01-01", None],
                    "emails": [[], ["hoa@example.vn"]],
                },
            )
        ],
        entry_data={"import": 3},
    )
    writer.done()
    hoa = Contact.objects.get(pk=cid)
    assert (hoa.full_name, hoa.name_key, hoa.email) == ("Lê Thị Hoa", "le thi hoa", "hoa@example.vn")
    assert hoa.updated_at > before
    assert ContactEmail.objects.get(contact=hoa).is_primary
    assert found("thi hoa") == {cid} and found("hoa@example") == {cid}
    entry = TimelineEntry.objects.get(contact=hoa, kind="system")
    # The birthday is sensitive: counted, not named.
    assert entry.data["fields"] == ["emails", "full_name"] and entry.data["protected_fields"] == 1
    assert entry.data["import"] == 3
    assert AuditEvent.objects.get(contact_id=cid, action="update").changes["full_name"] == ["Lê Hoa", "Lê Thị Hoa"]
    assert [set(c.updated) for c in heard] == [set(), {cid}]


def test_an_added_phone_is_not_primary_when_the_contact_has_one(admin: Any) -> None:
    writer = ContactWriter(actor_for(admin, "job"))
    [cid] = writer.create(
        [NewContact(values={"full_name": "Phạm An"}, phones=[("+84912000001", "", "mobile", "mobile")])]
    )
    added = ContactChange(
        contact_id=cid,
        phones=[("+84912000002", "", "mobile", "mobile")],
        changes={"phones": [["+84912000001"], ["+84912000001", "+84912000002"]]},
    )
    writer.update([added])
    assert Contact.objects.get(pk=cid).phone == "+84912000001"
    assert list(ContactPhone.objects.filter(contact_id=cid).order_by("e164").values_list("is_primary", flat=True)) == [
        True,
        False,
    ]
    # What the writer indexed is what a full re-index stores.
    keys = set(found("000002"))
    search_index([cid])
    assert set(found("000002")) == keys == {cid}


def test_bulk_rows_keep_their_values_on_either_database(admin: Any) -> None:
    """``core.bulk.Table`` writes by COPY on PostgreSQL and (search entries) by one JSON
    statement on SQLite: text that COPY or JSON escape, JSON, dates and datetimes come back as given."""
    import datetime as dt

    from danhba.contacts.models import SearchEntry

    name = 'Lê "Tab\tBack\\slash" 😀 Hoà'
    born = dt.date(1990, 2, 28)
    writer = ContactWriter(actor_for(admin, "cli"))
    [cid] = writer.create(
        [
            NewContact(
                values={"full_name": name, "birthday": born, "custom": {"note": "a\nb", "n": [1, None]}},
                emails=[("le.hoa@example.vn", "work")],
                entries=[Entry(kind="note", author_id=None, subject="\\N", body="line 1\nline 2\r\n")],
            )
        ]
    )
    contact = Contact.objects.get(pk=cid)
    assert (contact.full_name, contact.birthday, contact.custom) == (name, born, {"note": "a\nb", "n": [1, None]})
    entry = TimelineEntry.objects.get(contact_id=cid, kind="note")
    assert (entry.subject, entry.body, entry.author_id) == ("\\N", "line 1\nline 2\r\n", None)
    assert SearchEntry.objects.get(contact_id=cid).email == "le.hoa@example.vn"
    assert found("le tab") == {cid}


@pytest.mark.django_db
def test_rows_written_in_bulk_with_shared_values_are_stored_as_given() -> None:
    """``core.bulk.Table`` on SQLite writes a value every row shares into the statement: the
    rows read back are the rows given (texts with quotes and ``%``, NULLs, times)."""
    import datetime as dt

    from danhba.contacts.models import Tag
    from danhba.core.bulk import Table

    at = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    rows = [(f"tag {i}", f"tag {i}", "'%s%%'", at) for i in range(12)]
    rows[5] = ("odd", "odd", "#fff", at + dt.timedelta(seconds=1))
    Table(Tag, ["name", "name_key", "color", "created_at"]).insert(rows)
    got = sorted(Tag.objects.values_list("name", "name_key", "color", "created_at"))
    assert got == sorted(rows)


def test_a_contact_made_ahead_is_stored_as_the_same_new_contact(admin: Any) -> None:
    """A ``MadeContact`` (row and search texts made ahead, an import's common case) gives the
    rows a ``NewContact`` of the same values gives: contact columns, primary email, phone and
    company, tags, notes, the search entry."""
    from danhba.contacts.models import Company, ContactCompany, ContactTag, SearchEntry, Tag
    from danhba.contacts.search import search_texts
    from danhba.contacts.writer import ContactRows, MadeContact

    tag = Tag.objects.create(name="VIP", name_key="vip")
    company = Company.objects.create(name="Công ty An Phát", name_key="cong ty an phat")
    values = {"full_name": "Nguyễn Thị Mai", "given_name": "Mai", "province": "Hà Nội", "custom": {"size": "M"},
              "job_title": "Kế toán"}  # fmt: skip
    emails = [("mai@example.vn", "personal"), ("mai.nt@gmail.com", "personal")]
    phones = [("+84912000111", "0912 000 111", "mobile", "mobile"), ("+84243000222", "024 3000 2", "landline", "home")]
    companies = [(company.pk, company.name, "Kế toán")]
    note = [Entry(kind="note", author_id=admin.pk, subject="Imported note", body="Khách quen")]
    tables = [
        (ContactEmail, ("email", "label", "is_primary")),
        (ContactPhone, ("e164", "raw", "kind", "label", "is_primary")),
        (ContactTag, ("tag_id",)),
        (ContactCompany, ("company_id", "is_primary", "job_title")),
        (TimelineEntry, ("kind", "subject", "body", "author_id")),
        (SearchEntry, ("name", "company", "email", "phone")),
    ]

    def stored(new: NewContact | MadeContact) -> list[Any]:
        writer = ContactWriter(actor_for(admin, "job"))
        [cid] = writer.create([new], batch_of=("import", 9, "a.csv"))
        writer.done()
        assert found("thi mai") == {cid} and found("000 111") == {cid}
        skip = {"id", "created_at", "updated_at", "last_activity_at"}
        got: list[Any] = [{k: v for k, v in Contact.objects.filter(pk=cid).values().get().items() if k not in skip}]
        got += [sorted(model.objects.filter(contact_id=cid).values_list(*columns)) for model, columns in tables]
        Contact.objects.filter(pk=cid).delete()
        return got

    given = stored(NewContact(values=values, emails=emails, phones=phones, tag_ids=[tag.pk], companies=companies,
                              entries=note))  # fmt: skip
    row = ContactRows().make(values, email=emails[0][0], phone=phones[0][0])
    texts = search_texts(values["full_name"], [e for e, _l in emails], [p[0] for p in phones], [company.name])
    # As an import reads them: addresses, and phones as (e164, raw, kind), labelled by the writer.
    made_emails = [e for e, _l in emails]
    made_phones = [(e164, raw, kind) for e164, raw, kind, _l in phones]
    made = stored(MadeContact(row, texts, made_emails, made_phones, [], [], [tag.pk], companies, note))
    assert made == given
    assert given[0]["email"] == "mai@example.vn" and given[0]["lifecycle_stage_id"] is not None
    assert all(given[1:])  # every table got its rows


@pytest.mark.sqlite
def test_the_list_indexes_are_built_again_in_small_sorted_runs_on_every_core() -> None:
    """A rebuild after a big import sorts in runs of ``SORT_RUN_KIB`` with helper threads
    (core.bulk._sorting, decision 0027), and gives the connection its settings back."""
    from django.db import connection

    from danhba.contacts.writer import list_indexes_restore, list_indexes_set_aside
    from danhba.core.bulk import SORT_RUN_KIB, indexes_present

    def pragmas() -> tuple[int, int]:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size")
            cache = int(cursor.fetchone()[0])
            cursor.execute("PRAGMA threads")
            return cache, int(cursor.fetchone()[0])

    before = pragmas()
    seen: list[tuple[int, int]] = []

    def watch(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.startswith("CREATE INDEX"):
            seen.append(pragmas())
        return execute(sql, params, many, context)

    names = {index.name for index in Contact._meta.indexes}
    assert set(list_indexes_set_aside()) == names
    with connection.execute_wrapper(watch):
        assert set(list_indexes_restore()) == names
    assert indexes_present(Contact) >= names
    assert seen == [(-SORT_RUN_KIB, os.cpu_count() or 1)] * len(names)
    assert pragmas() == before
