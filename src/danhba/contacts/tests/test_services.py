"""The contact services: normalisation on write, validation, visibility, sensitive fields,
search keys and the audit trail."""

import unicodedata

import pytest

from danhba.audit.models import AuditEvent
from danhba.conftest import actor_for
from danhba.contacts.models import Contact, ContactEmail, CustomField, SearchEntry, TimelineEntry
from danhba.contacts.selectors import ContactFilters, contact_count, contact_data, contact_page
from danhba.contacts.services import companies as company_services
from danhba.contacts.services import contacts as contact_services
from danhba.contacts.services import fields as field_services
from danhba.contacts.services import timeline as timeline_services
from danhba.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied

pytestmark = pytest.mark.django_db


def names(page):
    return [c.full_name for c in page.items]


def test_create_normalises_names_emails_and_phones(admin):
    nfd_name = unicodedata.normalize("NFD", "nguyễn  văn đức")
    contact = contact_services.contact_create(
        actor=actor_for(admin),
        data={
            "full_name": nfd_name,
            "emails": [" Duc.Nguyen@GMAIL.com ", {"email": "duc@congty.vn", "label": "work", "is_primary": True}],
            "phones": ["0162 345 6789", "9.12345678E8"],
            "province": "TP.HCM",
            "birthday": "05/03/1987",
        },
    )
    contact.refresh_from_db()
    assert contact.full_name == "Nguyễn Văn Đức"
    assert unicodedata.is_normalized("NFC", contact.full_name)
    assert (contact.family_name, contact.middle_name, contact.given_name) == ("Nguyễn", "Văn", "Đức")
    assert contact.email == "duc@congty.vn"  # the one marked primary
    assert sorted(e.email for e in contact.emails.all()) == ["duc.nguyen@gmail.com", "duc@congty.vn"]
    assert [p.e164 for p in contact.phones.all()] == ["+84323456789", "+84912345678"]
    assert contact.phone == "+84323456789"
    assert contact.province == "ho-chi-minh"
    assert contact.birthday.isoformat() == "1987-03-05"
    assert contact.lifecycle_stage.key == "subscriber"


def test_bad_input_is_rejected_whole_with_reasons_per_field(admin):
    with pytest.raises(InvalidInput) as exc:
        contact_services.contact_create(
            actor=actor_for(admin),
            data={"full_name": "Lê Thị Hoa", "emails": ["not-an-email"], "phones": ["12"], "province": "Atlantis",
                  "gender": "robot", "birthday": "31/02/2000", "nonsense": 1},
        )  # fmt: skip
    details = exc.value.details
    assert set(details) >= {"emails.0", "phones.0", "province", "gender", "birthday", "nonsense"}
    assert Contact.objects.count() == 0


def test_a_contact_needs_a_name_an_email_or_a_phone(admin):
    with pytest.raises(InvalidInput) as exc:
        contact_services.contact_create(actor=actor_for(admin), data={})
    assert "full_name" in exc.value.details
    only_email = contact_services.contact_create(actor=actor_for(admin), data={"emails": ["lan.tran@example.vn"]})
    assert only_email.full_name == "lan.tran"


def test_an_email_belongs_to_one_contact(admin, make_contact):
    first = make_contact(emails=["an@example.vn"])
    with pytest.raises(Conflict) as exc:
        make_contact(full_name="Someone Else", emails=["AN@example.vn"])
    assert exc.value.details["contact_id"] == first.pk
    assert ContactEmail.objects.filter(email="an@example.vn").count() == 1
    assert Contact.objects.count() == 1


def test_update_changes_only_given_fields_and_audits_before_after(admin, make_contact):
    contact = make_contact(full_name="Trần Thị Lan", job_title="Kế toán", emails=["lan@example.vn"])
    contact_services.contact_update(
        actor=actor_for(admin, "api"), contact=contact, data={"job_title": "Kế toán trưởng"}
    )
    contact.refresh_from_db()
    assert contact.job_title == "Kế toán trưởng"
    assert contact.email == "lan@example.vn"
    event = AuditEvent.objects.filter(action="update", contact_id=contact.pk).get()
    assert event.changes == {"job_title": ["Kế toán", "Kế toán trưởng"]}
    assert event.via == "api" and event.actor == admin
    change = TimelineEntry.objects.get(contact=contact, kind="system")
    assert change.data["fields"] == ["job_title"]


def test_renaming_resplits_the_name(admin, make_contact):
    contact = make_contact(full_name="Phạm Minh Tuấn")
    contact_services.contact_update(actor=actor_for(admin), contact=contact, data={"full_name": "phạm thị minh thư"})
    contact.refresh_from_db()
    assert (contact.family_name, contact.middle_name, contact.given_name) == ("Phạm", "Thị Minh", "Thư")
    assert contact.name_key == "pham thi minh thu"


def test_search_finds_people_without_diacritics_by_phone_email_and_company(admin, make_contact):
    duc = make_contact(
        full_name="Nguyễn Văn Đức", emails=["duc.nguyen@gmail.com"], phones=["0912 345 678"],
        companies=[{"name": "Công ty Sữa Việt", "is_primary": True}],
    )  # fmt: skip
    make_contact(full_name="Trần Thị Dung", phones=["0987 654 321"])
    for query in ("nguyen van duc", "NGUYEN VAN DUC", "Nguyễn Văn Đức", "van duc", "duc", "đức",
                  "0912 345 678", "+84912345678", "84912345678", "345678", "duc.nguyen@", "sua viet"):  # fmt: skip
        page = contact_page(admin, ContactFilters(q=query))
        assert [c.pk for c in page.items] == [duc.pk], query
    assert names(contact_page(admin, ContactFilters(q="nguyen van dung"))) == []


def test_contacts_written_in_bulk_are_found_whatever_their_names_hold(admin):
    """The bulk writers' search entries go in as one statement (JSON on SQLite): quotes,
    backslashes, brackets and characters outside the BMP arrive as typed."""
    from danhba.contacts.search import SearchDoc, search_row
    from danhba.contacts.services.bulk import ContactsBulk

    people = [
        ('Đỗ "Bé" O\'Neil', "be.oneil@example.vn", "0912 000 111"),
        ("Lê [Tí] \\ 😀 Nguyên", "ti.le@example.vn", "0912 000 222"),
        ("Hồ Thị Ánh", "", "0912 000 333"),
    ]
    data = [
        {"full_name": name, "phones": [{"phone": phone}], **({"emails": [{"email": email}]} if email else {})}
        for name, email, phone in people
    ]
    ids = ContactsBulk(actor_for(admin)).create(data)
    stored = {row[0]: row for row in SearchEntry.objects.values_list("contact_id", "name", "company", "email", "phone")}
    for cid in ids:
        contact = Contact.objects.get(pk=cid)
        doc = SearchDoc(cid, contact.full_name, [contact.email] if contact.email else [], [contact.phone])
        assert stored[cid] == search_row(doc)
    for query, cid in (("be o neil", ids[0]), ("nguyen", ids[1]), ("ti.le@", ids[1]), ("000 333", ids[2])):
        assert [c.pk for c in contact_page(admin, ContactFilters(q=query)).items] == [cid], query


def test_changed_name_email_phone_and_company_are_found_by_the_new_text_only(admin, make_contact):
    lan = make_contact(
        full_name="Trần Thị Lan", emails=["lan.tran@gmail.com"], phones=["0912 345 678"],
        companies=[{"name": "Công ty Cũ", "is_primary": True}],
    )  # fmt: skip
    data = {
        "full_name": "Võ Ngọc Mai", "emails": [{"email": "mai.vo@yahoo.com"}], "phones": [{"phone": "0987 111 222"}],
        "companies": [{"name": "Tập đoàn Mới", "is_primary": True}],
    }  # fmt: skip
    contact_services.contact_update(actor=actor_for(admin), contact=lan, data=data)
    for old in ("tran thi lan", "lan", "lan.tran@", "0912 345 678", "345678", "cong ty cu"):
        assert not contact_page(admin, ContactFilters(q=old)).items, old
    for new in ("vo ngoc mai", "Võ Ngọc", "mai", "mai.vo@yah", "0987111222", "+84 987 111 222", "111222", "tap doan"):
        assert [c.pk for c in contact_page(admin, ContactFilters(q=new)).items] == [lan.pk], new


def test_short_queries_and_word_order(admin, make_contact):
    an = make_contact(full_name="Nguyễn Thị An")
    anh = make_contact(full_name="Lê Anh")
    make_contact(full_name="Phạm Văn Bình")
    assert {c.pk for c in contact_page(admin, ContactFilters(q="an")).items} == {an.pk, anh.pk}
    assert {c.pk for c in contact_page(admin, ContactFilters(q="a")).items} == {an.pk, anh.pk}
    assert [c.pk for c in contact_page(admin, ContactFilters(q="thi a")).items] == [an.pk]
    assert not contact_page(admin, ContactFilters(q="an thi")).items  # the words in the order typed
    assert contact_count(admin, ContactFilters(q="an")) == (2, False)


def test_keyset_pages_cover_every_contact_once(admin, make_contact):
    for i in range(23):
        make_contact(full_name=f"Lê Văn Số {i:02d}")
    seen, cursor = [], None
    while True:
        page = contact_page(admin, ContactFilters(), sort="-created", cursor=cursor, limit=5)
        seen += [c.pk for c in page.items]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)) == 23
    search_seen, cursor = [], None
    while True:
        page = contact_page(admin, ContactFilters(q="le van"), cursor=cursor, limit=4)
        search_seen += [c.pk for c in page.items]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert sorted(search_seen) == sorted(seen)


def test_sales_sees_own_and_unassigned_contacts_only(users, make_contact, make_user):
    sales, other_rep = users["sales"], make_user("sales")
    mine = make_contact(full_name="Khách Của Tôi", owner=sales.pk)
    theirs = make_contact(full_name="Khách Của Người Khác", owner=other_rep.pk)
    unassigned = make_contact(full_name="Khách Chưa Giao")
    visible = {c.pk for c in contact_page(sales, ContactFilters(), limit=50).items}
    assert visible == {mine.pk, unassigned.pk}
    assert [c.pk for c in contact_page(sales, ContactFilters(q="khach cua")).items] == [mine.pk]
    with pytest.raises(NotFound):
        contact_services.contact_get(actor=actor_for(sales), pk=theirs.pk)
    with pytest.raises(NotFound):
        contact_services.contact_update(actor=actor_for(sales), contact=theirs, data={"job_title": "x"})
    assert contact_count(sales, ContactFilters()) == (2, False)


def test_team_scope_sees_the_teams_contacts(users, make_contact, make_user):
    from danhba.accounts.models import Team

    team = Team.objects.create(name="Miền Nam")
    sales = users["sales"]
    sales.role.record_scope = "team"
    sales.role.save()
    sales.team = team
    sales.save()
    teammate, outsider = make_user("sales", team=team), make_user("sales")
    team_contact = make_contact(full_name="Khách Của Đội", owner=teammate.pk)
    make_contact(full_name="Khách Đội Khác", owner=outsider.pk)
    assert [c.pk for c in contact_page(sales, ContactFilters()).items] == [team_contact.pk]


def test_a_sales_rep_owns_what_they_create(users):
    contact = contact_services.contact_create(actor=actor_for(users["sales"]), data={"full_name": "Võ Thị Sáu"})
    assert contact.owner == users["sales"]


def test_roles_without_permission_cannot_write(users, make_contact):
    contact = make_contact()
    contact_id = contact.pk
    with pytest.raises(PermissionDenied):
        contact_services.contact_create(actor=actor_for(users["analyst"]), data={"full_name": "X"})
    with pytest.raises(PermissionDenied):
        contact_services.contact_delete(actor=actor_for(users["support"]), contact=contact)
    contact_services.contact_delete(actor=actor_for(users["admin"]), contact=contact)
    assert not Contact.objects.exists()
    assert AuditEvent.objects.filter(action="delete", contact_id=contact_id).exists()


def test_sensitive_fields_are_hidden_and_not_writable(users, make_contact):
    CustomField.objects.create(key="cccd", label="Số CCCD", type="text", is_sensitive=True)
    CustomField.objects.create(key="size", label="Cỡ áo", type="choice", choices=["S", "M", "L"])
    contact = make_contact(birthday="1990-01-02", income_band="20-30tr", custom={"cccd": "079090001234", "size": "M"})
    admin_view = contact_data(contact, users["admin"])
    assert admin_view["birthday"].isoformat() == "1990-01-02"
    assert admin_view["custom"] == {"cccd": "079090001234", "size": "M"}
    support_view = contact_data(contact, users["support"])
    assert "birthday" not in support_view and "income_band" not in support_view
    assert support_view["custom"] == {"size": "M"}
    with pytest.raises(PermissionDenied):
        contact_services.contact_update(
            actor=actor_for(users["support"]), contact=contact, data={"birthday": "1991-01-01"}
        )
    with pytest.raises(PermissionDenied):
        contact_services.contact_update(
            actor=actor_for(users["support"]), contact=contact, data={"custom": {"cccd": "1"}}
        )
    contact_services.contact_update(actor=actor_for(users["support"]), contact=contact, data={"custom": {"size": "L"}})
    contact.refresh_from_db()
    assert contact.custom == {"cccd": "079090001234", "size": "L"}


@pytest.mark.parametrize(
    ("ftype", "extra", "value", "stored"),
    [
        ("text", {}, " Xin  chào ", "Xin chào"),
        ("number", {}, "42", 42),
        ("decimal", {}, "12.50", "12.50"),
        ("date", {}, "01/07/2025", "2025-07-01"),
        ("boolean", {}, "có", True),
        ("choice", {"choices": ["Vàng", "Bạc"]}, "Vàng", "Vàng"),
        ("multi_choice", {"choices": ["a", "b", "c"]}, "a, c", ["a", "c"]),
        ("url", {}, "https://example.vn/x", "https://example.vn/x"),
        ("email", {}, "A@B.VN", "a@b.vn"),
        ("phone", {}, "0912345678", "+84912345678"),
    ],
)
def test_custom_fields_are_validated_and_stored_normalised(admin, make_contact, ftype, extra, value, stored):
    CustomField.objects.create(key="f", label="F", type=ftype, **extra)
    contact = make_contact(custom={"f": value})
    contact.refresh_from_db()
    assert contact.custom["f"] == stored


@pytest.mark.parametrize(
    ("ftype", "extra", "value"),
    [("number", {}, "4.5"), ("date", {}, "hôm qua"), ("boolean", {}, "maybe"), ("choice", {"choices": ["A"]}, "B"),
     ("url", {}, "javascript:alert(1)"), ("email", {}, "x@"), ("phone", {}, "123")],
)  # fmt: skip
def test_bad_custom_values_are_refused(admin, make_contact, ftype, extra, value):
    CustomField.objects.create(key="f", label="F", type=ftype, **extra)
    with pytest.raises(InvalidInput) as exc:
        make_contact(custom={"f": value})
    assert "custom.f" in exc.value.details


def test_required_custom_field_is_enforced_on_create_only(admin, make_contact):
    older = make_contact(full_name="Contact Cũ")
    CustomField.objects.create(key="store", label="Cửa hàng", type="text", required=True)
    with pytest.raises(InvalidInput):
        make_contact(full_name="Contact Mới")
    contact_services.contact_update(actor=actor_for(admin), contact=older, data={"job_title": "Bán hàng"})


def test_bulk_update_tags_assigns_and_moves_visible_contacts(users, make_contact):
    a, b = make_contact(full_name="Một"), make_contact(full_name="Hai")
    changed = contact_services.contacts_bulk_update(
        actor=actor_for(users["marketing"]), contact_ids=[a.pk, b.pk], add_tags=["Hội thảo 2025"],
        owner=users["sales"].pk, lifecycle_stage="lead",
    )  # fmt: skip
    assert changed == 2
    for c in (a, b):
        c.refresh_from_db()
        assert [t.name for t in c.tags.all()] == ["Hội thảo 2025"]
        assert c.owner == users["sales"] and c.lifecycle_stage.key == "lead"
    assert AuditEvent.objects.filter(action="update", object_type="contact").count() == 2
    filtered = contact_page(users["admin"], ContactFilters(tag="hoi thao 2025"))
    assert {c.pk for c in filtered.items} == {a.pk, b.pk}


def test_company_rename_updates_contact_search(admin, make_contact):
    contact = make_contact(companies=[{"name": "Công ty ABC"}])
    company = contact.companies.get()
    company_services.company_save(actor=actor_for(admin), company=company, data={"name": "Tập đoàn Xanh"})
    assert [c.pk for c in contact_page(admin, ContactFilters(q="tap doan xanh")).items] == [contact.pk]
    assert not contact_page(admin, ContactFilters(q="cong ty abc")).items


def test_deleting_a_contact_removes_its_search_entry(admin, make_contact):
    contact = make_contact(emails=["x@example.vn"])
    assert SearchEntry.objects.filter(contact_id=contact.pk).exists()
    assert [c.pk for c in contact_page(admin, ContactFilters(q="x@example")).items] == [contact.pk]
    contact_services.contact_delete(actor=actor_for(admin), contact=contact)
    assert not SearchEntry.objects.filter(contact_id=contact.pk).exists()
    assert not contact_page(admin, ContactFilters(q="x@example")).items


def test_timeline_entries_update_last_activity_and_private_notes_stay_private(users, make_contact):
    contact = make_contact()
    entry = timeline_services.timeline_entry_save(
        actor=actor_for(users["admin"]), contact=contact, entry=None,
        data={"kind": "call", "channel": "phone", "subject": "Gọi tư vấn", "body": "Khách hỏi giá", "is_private": True},
    )  # fmt: skip
    contact.refresh_from_db()
    assert contact.last_activity_at >= entry.occurred_at
    from danhba.contacts.selectors import timeline_for

    assert entry in timeline_for(contact, users["admin"])
    assert entry not in timeline_for(contact, users["support"])
    with pytest.raises(InvalidInput):
        timeline_services.timeline_entry_save(
            actor=actor_for(users["support"]),
            contact=contact,
            entry=None,
            data={"kind": "note", "body": "x", "is_private": True},
        )
    with pytest.raises(InvalidInput):
        timeline_services.timeline_entry_save(
            actor=actor_for(users["support"]), contact=contact, entry=None, data={"kind": "system", "body": "x"}
        )


def test_only_the_author_or_an_admin_changes_a_timeline_entry(users, make_contact):
    contact = make_contact()
    note = timeline_services.timeline_entry_save(
        actor=actor_for(users["support"]), contact=contact, entry=None, data={"kind": "note", "body": "Khách gọi"}
    )
    with pytest.raises(PermissionDenied):
        timeline_services.timeline_entry_save(
            actor=actor_for(users["marketing"]), contact=contact, entry=note, data={"body": "sửa"}
        )
    timeline_services.timeline_entry_save(
        actor=actor_for(users["admin"]), contact=contact, entry=note, data={"body": "sửa"}
    )
    note.refresh_from_db()
    assert note.body == "sửa"


def test_inactive_stages_cannot_be_chosen(admin, make_contact):
    from danhba.contacts.models import LifecycleStage

    LifecycleStage.objects.filter(key="evangelist").update(is_active=False)
    with pytest.raises(InvalidInput) as exc:
        make_contact(lifecycle_stage="evangelist")
    assert "lifecycle_stage" in exc.value.details


def test_email_start_without_the_at_sign_finds_the_contact(admin, make_contact):
    contact = make_contact(full_name="Lê Thị Hoa", emails=["hoa.nguyen87@example.com"])
    for query in ("hoa.nguyen87", "hoa.nguyen87@", "HOA.NGUYEN87@EXAMPLE.COM"):
        assert [c.pk for c in contact_page(admin, ContactFilters(q=query)).items] == [contact.pk], query


def test_tag_and_company_filters_work_for_rare_and_common_values(admin, make_contact, monkeypatch):
    from danhba.contacts import selectors

    tagged = [make_contact(full_name=f"Khách {i}", tags=["Sỉ"], companies=[{"name": "Cty A"}]) for i in range(3)]
    make_contact(full_name="Không Tag")
    company_id = tagged[0].companies.get().pk
    expected = {c.pk for c in tagged}
    for small in (2000, 1):  # id list for a rare value, row-by-row check for a common one
        monkeypatch.setattr(selectors, "SMALL_MEMBERSHIP", small)
        assert {c.pk for c in contact_page(admin, ContactFilters(tag="si")).items} == expected
        assert {c.pk for c in contact_page(admin, ContactFilters(company=company_id)).items} == expected
        assert {c.pk for c in contact_page(admin, ContactFilters(q="khach", tag="Sỉ")).items} == expected


@pytest.mark.parametrize("value", ["0001-01-01T00:00", "9999-12-31T23:59-05:00", "2025-13-01T00:00", "hôm nay"])
def test_impossible_datetimes_are_refused_not_crashed(admin, make_contact, value):
    CustomField.objects.create(key="hen", label="Hẹn", type="datetime")
    with pytest.raises(InvalidInput) as exc:
        make_contact(custom={"hen": value})
    assert "custom.hen" in exc.value.details
    contact = make_contact(full_name="Có Hẹn")
    with pytest.raises(InvalidInput) as exc:
        timeline_services.timeline_entry_save(
            actor=actor_for(admin), contact=contact, entry=None, data={"body": "x", "occurred_at": value}
        )
    assert "occurred_at" in exc.value.details


def test_company_limits_and_sensitive_custom_fields(users):
    with pytest.raises(InvalidInput) as exc:
        company_services.company_save(
            actor=actor_for(users["admin"]), company=None,
            data={"name": "Cty", "website": "https://example.vn/" + "a" * 300},
        )  # fmt: skip
    assert "website" in exc.value.details
    CustomField.objects.create(entity="company", key="revenue", label="Doanh thu", type="number", is_sensitive=True)
    with pytest.raises(PermissionDenied):
        company_services.company_save(
            actor=actor_for(users["marketing"]), company=None, data={"name": "Cty", "custom": {"revenue": 5}}
        )


def test_csv_export_neutralises_formulas(admin, make_contact):
    from danhba.contacts.exports import contacts_export_csv

    make_contact(full_name="Khách Hàng", occupation='=HYPERLINK("http://evil.example","x")', phones=["0912345678"])
    text = "".join(contacts_export_csv(actor=actor_for(admin), filters=ContactFilters()))
    assert "'=HYPERLINK" in text
    assert '"=""+84912345678"""' in text  # the phone as text for Excel: ="+84912345678"
    assert ",=HYPERLINK" not in text


def test_retired_sensitive_custom_field_stays_hidden(users, make_contact):
    field = CustomField.objects.create(key="health", label="Sức khỏe", type="text", is_sensitive=True)
    contact = make_contact(custom={"health": "bí mật"})
    field_services.customfield_delete(actor=actor_for(users["admin"]), field=field)
    for role in ("sales", "support", "analyst", "admin"):
        assert contact_data(contact, users[role])["custom"] == {}, role


def test_roles_that_cannot_create_tags_or_companies_cannot_do_it_through_a_contact(users, make_contact):
    from danhba.contacts.models import Company, Tag

    Tag.objects.create(name="VIP", name_key="vip")
    contact = contact_services.contact_create(actor=actor_for(users["sales"]), data={"full_name": "A", "tags": ["vip"]})
    assert [t.name for t in contact.tags.all()] == ["VIP"]
    with pytest.raises(InvalidInput) as exc:
        contact_services.contact_update(actor=actor_for(users["sales"]), contact=contact, data={"tags": ["Sales-made"]})
    assert "tags" in exc.value.details
    with pytest.raises(InvalidInput) as exc:
        contact_services.contact_update(
            actor=actor_for(users["support"]), contact=contact, data={"companies": [{"name": "Support Co"}]}
        )
    assert "companies.0" in exc.value.details
    assert not Tag.objects.filter(name="Sales-made").exists() and not Company.objects.exists()


def test_saving_company_links_by_name_keeps_the_linked_company(admin, make_contact):
    from danhba.contacts.models import Company

    first = Company.objects.create(name="Minh Long", name_key="minh long")
    Company.objects.create(name="Minh Long", name_key="minh long")
    one = Company.objects.create(name="1", name_key="1")
    contact = make_contact(companies=[{"company_id": first.pk}, {"company_id": one.pk}])
    contact_services.contact_update(
        actor=actor_for(admin), contact=contact, data={"companies": [{"name": "Minh Long"}, {"name": "1"}]}
    )
    assert sorted(contact.company_links.values_list("company_id", flat=True)) == sorted([first.pk, one.pk])
    other = make_contact(full_name="Khác")
    with pytest.raises(InvalidInput) as exc:
        contact_services.contact_update(
            actor=actor_for(admin), contact=other, data={"companies": [{"name": "Minh Long"}]}
        )
    assert "companies.0" in exc.value.details


def test_an_email_conflict_names_the_other_contact_only_to_those_who_see_it(users, make_contact, make_user):
    other_rep = make_user("sales")
    make_contact(full_name="Của người khác", owner=other_rep.pk, emails=["x@example.vn"])
    with pytest.raises(Conflict) as exc:
        contact_services.contact_create(
            actor=actor_for(users["sales"]), data={"full_name": "B", "emails": ["x@example.vn"]}
        )
    assert "contact_id" not in exc.value.details
    with pytest.raises(Conflict) as exc:
        contact_services.contact_create(
            actor=actor_for(users["admin"]), data={"full_name": "B", "emails": ["x@example.vn"]}
        )
    assert "contact_id" in exc.value.details


def test_two_stale_copies_saving_different_fields_both_stick(admin, make_contact):
    contact = make_contact(occupation="Giáo viên", street="1 Lê Lợi", custom={})
    copy1, copy2 = Contact.objects.get(pk=contact.pk), Contact.objects.get(pk=contact.pk)
    contact_services.contact_update(actor=actor_for(admin), contact=copy1, data={"occupation": "Kỹ sư"})
    contact_services.contact_update(actor=actor_for(admin), contact=copy2, data={"street": "2 Lê Lợi"})
    contact.refresh_from_db()
    assert (contact.occupation, contact.street) == ("Kỹ sư", "2 Lê Lợi")
    last = AuditEvent.objects.filter(action="update", contact_id=contact.pk).order_by("-id").first()
    assert last.changes == {"street": ["1 Lê Lợi", "2 Lê Lợi"]}


def test_change_entries_on_the_timeline_do_not_name_sensitive_fields(admin, make_contact):
    CustomField.objects.create(key="health", label="Sức khỏe", type="text", is_sensitive=True)
    contact = make_contact()
    contact_services.contact_update(
        actor=actor_for(admin),
        contact=contact,
        data={"birthday": "1990-01-01", "custom": {"health": "x"}, "hobbies": "cờ"},
    )
    entry = TimelineEntry.objects.get(contact=contact, kind="system")
    assert entry.data["fields"] == ["hobbies"] and entry.data["protected_fields"] == 2
    assert "birthday" not in entry.subject and "health" not in entry.subject


@pytest.mark.parametrize("sort", ["name", "-name", "created"])
def test_a_sales_rep_pages_through_own_and_unassigned_contacts_in_order(users, make_contact, make_user, sort):
    sales, other = users["sales"], make_user("sales")
    expected = set()
    for i in range(14):
        owner = (sales.pk, None, other.pk)[i % 3]
        contact = make_contact(full_name=f"Khách {chr(65 + (i * 7) % 26)}{i}", owner=owner)
        if owner != other.pk:
            expected.add(contact.pk)
    seen, cursor, keys = [], None, []
    while True:
        page = contact_page(sales, ContactFilters(), sort=sort, cursor=cursor, limit=3)
        seen += [c.pk for c in page.items]
        keys += [(c.name_key, c.pk) for c in page.items]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)) and set(seen) == expected
    if sort in ("name", "-name"):
        assert keys == sorted(keys, reverse=sort.startswith("-"))


def test_a_contact_matching_through_several_keys_is_listed_and_counted_once(admin, make_contact):
    for i in range(4):
        make_contact(full_name=f"Nguyễn Văn {i}", companies=[{"name": "Nguyễn Gia"}], emails=[f"nguyen{i}@x.vn"])
    seen, cursor = [], None
    while True:
        page = contact_page(admin, ContactFilters(q="nguyen"), cursor=cursor, limit=2)
        seen += [c.pk for c in page.items]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)) == 4
    assert contact_count(admin, ContactFilters(q="nguyen")) == (4, False)


def test_bulk_update_audits_each_contacts_previous_values(users, make_contact):
    a = make_contact(full_name="Một", lifecycle_stage="lead")
    b = make_contact(full_name="Hai", lifecycle_stage="customer")
    contact_services.contacts_bulk_update(
        actor=actor_for(users["admin"]), contact_ids=[a.pk, b.pk], lifecycle_stage="customer"
    )
    changes = {e.contact_id: e.changes for e in AuditEvent.objects.filter(action="update", object_type="contact")}
    assert changes == {a.pk: {"lifecycle_stage": ["lead", "customer"]}}


def test_bulk_edit_sets_plain_fields_with_an_audit_row_each(admin, users):
    me = actor_for(admin)
    a = contact_services.contact_create(actor=me, data={"full_name": "An", "job_title": "Kế toán"})
    b = contact_services.contact_create(actor=me, data={"full_name": "Bình", "province": "ha-noi"})
    contact_services.contacts_bulk_update(
        actor=me, contact_ids=[a.pk, b.pk], fields={"job_title": "Giám đốc", "province": "Đà Nẵng"}
    )
    assert set(Contact.objects.values_list("job_title", "province")) == {("Giám đốc", "da-nang")}
    row = AuditEvent.objects.filter(object_type="contact", object_id=str(a.pk), action="update").latest("id")
    assert row.changes["job_title"] == ["Kế toán", "Giám đốc"]
    with pytest.raises(InvalidInput) as refused:
        contact_services.contacts_bulk_update(actor=me, contact_ids=[a.pk], fields={"full_name": "X", "province": "?"})
    assert set(refused.value.details) == {"full_name", "province"}
    # A sensitive field the role may not see is refused as in a single edit.
    with pytest.raises(PermissionDenied):
        contact_services.contacts_bulk_update(
            actor=actor_for(users["sales"]), contact_ids=[a.pk], fields={"gender": "female"}
        )
