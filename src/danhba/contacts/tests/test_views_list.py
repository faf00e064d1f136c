"""The contact list page: search, filters, sorting, keyset pages, live search, bulk actions, CSV export."""

from __future__ import annotations

import csv
import html
import io
import re
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from danhba.audit.models import AuditEvent
from danhba.contacts.models import Contact, LifecycleStage, Tag

pytestmark = pytest.mark.django_db

LIST = "/contacts/"


def names(response: Any) -> list[str]:
    """The contact names listed on a page, in order."""
    found = re.findall(r'class="name" href="/contacts/\d+/">([^<]+)</a>', response.content.decode())
    return [html.unescape(name) for name in found]


def test_list_shows_contacts_and_count(client_for: Any, admin: Any, make_contact: Any) -> None:
    make_contact(full_name="Trần Thị Bình", emails=["binh@example.vn"])
    make_contact(full_name="Lê Văn Cường")
    response = client_for(admin).get(LIST)
    assert response.status_code == 200
    assert names(response) == ["Lê Văn Cường", "Trần Thị Bình"]
    assert "2 contacts" in response.content.decode()
    assert reverse("contacts:create") in response.content.decode()


def test_search_without_diacritics_finds_vietnamese_name(client_for: Any, admin: Any, make_contact: Any) -> None:
    make_contact(full_name="Nguyễn Văn Đức")
    make_contact(full_name="Phạm Thị Hoa")
    client = client_for(admin)
    assert names(client.get(LIST, {"q": "nguyen van duc"})) == ["Nguyễn Văn Đức"]
    assert names(client.get(LIST, {"q": "Đức"})) == ["Nguyễn Văn Đức"]
    assert names(client.get(LIST, {"q": "hoa"})) == ["Phạm Thị Hoa"]


@pytest.mark.parametrize("typed", ["0912345678", "+84 912 345 678", "(091) 234-5678", "5678"])
def test_search_by_phone_in_any_format(client_for: Any, admin: Any, make_contact: Any, typed: str) -> None:
    make_contact(full_name="Võ Minh Khang", phones=["0912.345.678"])
    make_contact(full_name="Đỗ Lan", phones=["0987 654 321"])
    assert names(client_for(admin).get(LIST, {"q": typed})) == ["Võ Minh Khang"]


def test_search_by_email_and_company(client_for: Any, admin: Any, make_contact: Any) -> None:
    make_contact(full_name="An", emails=["an.nguyen@congty.vn"], companies=["Công ty Hòa Bình"])
    make_contact(full_name="Bảo", emails=["bao@example.vn"])
    client = client_for(admin)
    assert names(client.get(LIST, {"q": "an.nguyen@"})) == ["An"]
    assert names(client.get(LIST, {"q": "hoa binh"})) == ["An"]


def test_filters(client_for: Any, users: Any, make_contact: Any) -> None:
    admin, sales = users["admin"], users["sales"]
    make_contact(full_name="Lead Mine", lifecycle_stage="lead", owner=admin.pk, tags=["VIP"], province="Hà Nội")
    make_contact(full_name="Customer Sales", lifecycle_stage="customer", owner=sales.pk, source="order")
    make_contact(full_name="Nobody's", lifecycle_stage="lead", emails=["x@example.vn"], buyer_role="decision_maker")
    client = client_for(admin)
    assert names(client.get(LIST, {"lifecycle_stage": "lead"})) == ["Lead Mine", "Nobody's"]
    assert names(client.get(LIST, {"owner": "me"})) == ["Lead Mine"]
    assert names(client.get(LIST, {"owner": "none"})) == ["Nobody's"]
    assert names(client.get(LIST, {"owner": str(sales.pk)})) == ["Customer Sales"]
    vip = Tag.objects.get(name="VIP")
    assert names(client.get(LIST, {"tag": str(vip.pk)})) == ["Lead Mine"]
    assert names(client.get(LIST, {"source": "order"})) == ["Customer Sales"]
    assert names(client.get(LIST, {"province": "ha-noi"})) == ["Lead Mine"]
    assert names(client.get(LIST, {"buyer_role": "decision_maker"})) == ["Nobody's"]
    assert names(client.get(LIST, {"has_email": "true"})) == ["Nobody's"]
    assert names(client.get(LIST, {"has_email": "false"})) == ["Customer Sales", "Lead Mine"]
    today = timezone.localdate().isoformat()
    assert len(names(client.get(LIST, {"created_after": today, "created_before": today}))) == 3
    assert names(client.get(LIST, {"created_before": "2000-01-01"})) == []
    # Filters combine with the search.
    assert names(client.get(LIST, {"q": "lead", "owner": "none"})) == []


def test_bad_filter_shows_error_not_500(client_for: Any, admin: Any, make_contact: Any) -> None:
    make_contact(full_name="Anyone")
    response = client_for(admin).get(LIST, {"created_after": "yesterday", "sort": "x"})
    assert response.status_code == 200
    assert "a date like 2025-07-01" in response.content.decode()
    bad_cursor = client_for(admin).get(LIST, {"cursor": "garbage!!"})
    assert bad_cursor.status_code == 200
    assert "cursor is not valid" in bad_cursor.content.decode()


def test_sorting(client_for: Any, admin: Any, make_contact: Any) -> None:
    for name in ("Bích", "An", "Cúc"):
        make_contact(full_name=name)
    client = client_for(admin)
    assert names(client.get(LIST, {"sort": "name"})) == ["An", "Bích", "Cúc"]
    assert names(client.get(LIST, {"sort": "-name"})) == ["Cúc", "Bích", "An"]
    assert names(client.get(LIST, {"sort": "-created"})) == ["Cúc", "An", "Bích"]
    assert names(client.get(LIST, {"sort": "created"})) == ["Bích", "An", "Cúc"]


def test_keyset_next_page(client_for: Any, admin: Any) -> None:
    stage = LifecycleStage.objects.first()
    Contact.objects.bulk_create(
        [Contact(full_name=f"Person {i:03d}", name_key=f"person {i:03d}", lifecycle_stage=stage) for i in range(120)]
    )
    client = client_for(admin)
    first = client.get(LIST)
    assert names(first) == [f"Person {i:03d}" for i in range(50)]
    assert "120 contacts" in first.content.decode()
    match = re.search(r'rel="next" href="/contacts/\?cursor=([\w-]+)"', first.content.decode())
    assert match, "a next-page link with a cursor"
    assert "offset" not in first.content.decode() and "page=" not in first.content.decode()
    second = client.get(LIST, {"cursor": match.group(1)})
    assert names(second) == [f"Person {i:03d}" for i in range(50, 100)]
    assert "First page" in second.content.decode()
    third_cursor = re.search(r'rel="next" href="/contacts/\?cursor=([\w-]+)"', second.content.decode())
    third = client.get(LIST, {"cursor": third_cursor.group(1)})  # type: ignore[union-attr]
    assert names(third) == [f"Person {i:03d}" for i in range(100, 120)]
    assert 'rel="next"' not in third.content.decode()


def test_search_pages_keep_the_query(client_for: Any, admin: Any) -> None:
    stage = LifecycleStage.objects.first()
    from danhba.contacts.search import search_index as search_keys_rebuild

    Contact.objects.bulk_create(
        [Contact(full_name=f"Hoa {i:03d}", name_key=f"hoa {i:03d}", lifecycle_stage=stage) for i in range(60)]
    )
    search_keys_rebuild(list(Contact.objects.values_list("pk", flat=True)))
    first = client_for(admin).get(LIST, {"q": "hoa"})
    assert len(names(first)) == 50
    link = re.search(r'rel="next" href="(/contacts/\?[^"]+)"', first.content.decode())
    assert link and "q=hoa" in link.group(1)
    second = client_for(admin).get(link.group(1).replace("&amp;", "&"))
    assert len(names(second)) == 10
    assert not set(names(first)) & set(names(second))


def test_live_search_returns_partial_for_htmx(client_for: Any, admin: Any, make_contact: Any) -> None:
    make_contact(full_name="Nguyễn Văn Đức")
    make_contact(full_name="Lý Thường Kiệt")
    client = client_for(admin)
    page = client.get(LIST).content.decode()
    assert 'hx-get="/contacts/"' in page and "delay:300ms" in page
    response = client.get(LIST, {"q": "duc"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="results"')
    assert "<html" not in body
    assert names(response) == ["Nguyễn Văn Đức"]


def test_count_is_capped(client_for: Any, admin: Any, make_contact: Any, monkeypatch: Any) -> None:
    from danhba.contacts import selectors

    real = selectors.contact_count
    monkeypatch.setattr(selectors, "contact_count", lambda user, filters: real(user, filters, cap=2))
    for name in ("A", "B", "C"):
        make_contact(full_name=name)
    assert "more than 2 contacts" in client_for(admin).get(LIST).content.decode()


# --- bulk actions ---------------------------------------------------------------------------


def test_bulk_actions(client_for: Any, users: Any, make_contact: Any) -> None:
    admin, sales = users["admin"], users["sales"]
    a = make_contact(full_name="A", tags=["old"])
    b = make_contact(full_name="B", tags=["old"])
    untouched = make_contact(full_name="C")
    client = client_for(admin)
    bulk = reverse("contacts:bulk")
    ids = [a.pk, b.pk]

    response = client.post(bulk, {"ids": ids, "action": "add_tag", "tag": "Hội chợ 2025", "next": "/contacts/?q=x"})
    assert response.status_code == 302 and response.url == "/contacts/?q=x"
    assert sorted(t.name for t in a.tags.all()) == ["Hội chợ 2025", "old"]
    assert not untouched.tags.exists()

    client.post(bulk, {"ids": ids, "action": "remove_tag", "tag": "old"})
    assert [t.name for t in b.tags.all()] == ["Hội chợ 2025"]

    client.post(bulk, {"ids": ids, "action": "set_owner", "owner": str(sales.pk)})
    assert set(Contact.objects.filter(pk__in=ids).values_list("owner_id", flat=True)) == {sales.pk}
    client.post(bulk, {"ids": ids, "action": "set_owner", "owner": "none"})
    assert set(Contact.objects.filter(pk__in=ids).values_list("owner_id", flat=True)) == {None}

    response = client.post(bulk, {"ids": ids, "action": "set_stage", "lifecycle_stage": "customer"}, follow=True)
    assert set(Contact.objects.filter(pk__in=ids).values_list("lifecycle_stage__key", flat=True)) == {"customer"}
    assert "2 contacts updated" in response.content.decode()
    assert AuditEvent.objects.filter(action="update", contact_id=a.pk).count() == 5


def test_bulk_without_selection_or_value_changes_nothing(client_for: Any, admin: Any, make_contact: Any) -> None:
    a = make_contact(full_name="A")
    client = client_for(admin)
    response = client.post(reverse("contacts:bulk"), {"action": "add_tag", "tag": "x"}, follow=True)
    assert "Tick at least one contact" in response.content.decode()
    response = client.post(reverse("contacts:bulk"), {"ids": [a.pk], "action": "set_stage"}, follow=True)
    assert "Choose a value" in response.content.decode()
    assert not a.tags.exists()


def test_bulk_ignores_ids_that_are_not_ids(client_for: Any, admin: Any, make_contact: Any) -> None:
    a = make_contact(full_name="A")
    response = client_for(admin).post(
        reverse("contacts:bulk"), {"ids": [str(a.pk), "9" * 30, "²", "x"], "action": "add_tag", "tag": "t"}
    )
    assert response.status_code == 302
    assert [t.name for t in a.tags.all()] == ["t"]


def test_bulk_skips_contacts_the_user_cannot_see(client_for: Any, users: Any, make_contact: Any) -> None:
    others = make_contact(full_name="Marketing's", owner=users["marketing"].pk)
    mine = make_contact(full_name="Mine", owner=users["sales"].pk)
    Tag.objects.create(name="t", name_key="t")  # Sales may use tags, not create them
    client_for(users["sales"]).post(
        reverse("contacts:bulk"), {"ids": [others.pk, mine.pk], "action": "add_tag", "tag": "t"}
    )
    assert mine.tags.exists() and not others.tags.exists()


def test_bulk_bar_only_for_roles_that_edit(client_for: Any, users: Any, make_contact: Any) -> None:
    make_contact(full_name="A")
    assert 'id="bulk-form"' in client_for(users["support"]).get(LIST).content.decode()
    assert 'id="bulk-form"' not in client_for(users["analyst"]).get(LIST).content.decode()
    assert (
        client_for(users["analyst"]).post(reverse("contacts:bulk"), {"ids": [1], "action": "add_tag"}).status_code
        == 403
    )


# --- export ---------------------------------------------------------------------------------


def read_csv(response: Any) -> list[dict[str, str]]:
    raw = b"".join(response.streaming_content).decode("utf-8")
    assert raw.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(raw[1:])))


def test_export_csv_of_current_filter(client_for: Any, admin: Any, make_contact: Any) -> None:
    make_contact(full_name="Nguyễn Văn Đức", lifecycle_stage="lead", emails=["duc@example.vn"])
    make_contact(full_name="Other", lifecycle_stage="customer")
    client = client_for(admin)
    page = client.get(LIST, {"lifecycle_stage": "lead"}).content.decode()
    assert "/contacts/export.csv?lifecycle_stage=lead" in page
    response = client.get(reverse("contacts:export"), {"lifecycle_stage": "lead"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="contacts-{today}.csv"'
    rows = read_csv(response)
    assert [(r["full_name"], r["email"]) for r in rows] == [("Nguyễn Văn Đức", "duc@example.vn")]
    assert AuditEvent.objects.filter(action="export", actor=admin).exists()


def test_export_link_only_for_roles_with_export(client_for: Any, users: Any, make_contact: Any) -> None:
    make_contact(full_name="A")
    assert "export.csv" in client_for(users["analyst"]).get(LIST).content.decode()
    assert "export.csv" not in client_for(users["sales"]).get(LIST).content.decode()


def test_export_with_bad_filter_goes_back_with_message(client_for: Any, admin: Any) -> None:
    response = client_for(admin).get(reverse("contacts:export"), {"has_email": "maybe"}, follow=True)
    assert response.status_code == 200
    assert "true or false" in response.content.decode()


def test_stylesheet_and_script_are_served(client_for: Any, admin: Any) -> None:
    """The pages link danhba/app.css and app.js; both must be found by the static files finders
    (``src/danhba/static`` is not an app's static folder, so it needs STATICFILES_DIRS)."""
    page = client_for(admin).get(LIST).content.decode()
    for path in re.findall(r'(?:href|src)="(/static/danhba/app\.(?:css|js))"', page):
        response = client_for(admin).get(path)
        assert response.status_code == 200, f"{path} is not served"
    assert "/static/danhba/app.css" in page and "/static/danhba/app.js" in page


def test_custom_fields_are_filters_on_the_list(client_for: Any, users: Any, make_contact: Any) -> None:
    from danhba.contacts.models import CustomField

    CustomField.objects.create(key="size", label="Cỡ áo", type="choice", choices=["S", "M", "L"])
    CustomField.objects.create(key="cccd", label="Số CCCD", type="text", is_sensitive=True)
    make_contact(full_name="Áo Cỡ M", custom={"size": "M"})
    make_contact(full_name="Áo Cỡ L", custom={"size": "L"})
    admin_page = client_for(users["admin"]).get(LIST, {"custom.size": "M"})
    assert names(admin_page) == ["Áo Cỡ M"]
    assert 'name="custom.size"' in admin_page.content.decode()
    assert 'name="custom.cccd"' in admin_page.content.decode()
    support_page = client_for(users["support"]).get(LIST)
    assert 'name="custom.size"' in support_page.content.decode()
    assert 'name="custom.cccd"' not in support_page.content.decode()
