"""The segment pages through HTTP: who may do what, the builder (preview, structural edits, save
errors that keep the tree), one segment's page, static lists by hand and by pasted lines, and the
segment filter of the contact list and exports."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from danhba.accounts.models import Role
from danhba.conftest import actor_for
from danhba.segments import services
from danhba.segments.models import Segment, SegmentChange, SegmentMember

pytestmark = pytest.mark.django_db


@pytest.fixture
def hanoi(make_contact: Any) -> list[Any]:
    return [
        make_contact(full_name="Nguyễn Văn An", province="Hà Nội", emails=[{"email": "an@example.vn"}]),
        make_contact(full_name="Trần Thị Bình", province="Hà Nội", emails=[{"email": "binh@example.vn"}]),
    ]


@pytest.fixture
def others(make_contact: Any) -> list[Any]:
    return [make_contact(full_name="Lê Văn Cường", province="Đà Nẵng", phones=[{"phone": "0912345678"}])]


def dynamic(user: Any, name: str = "Hà Nội", tree: Any = None) -> Segment:
    tree = tree or {
        "op": "all",
        "conditions": [{"kind": "field", "field": "province", "operator": "eq", "value": "ha-noi"}],
    }
    return services.segment_create(actor=actor_for(user), name=name, conditions=tree)


def static(user: Any, name: str = "VIP", ids: list[int] | None = None) -> Segment:
    segment = services.segment_create(actor=actor_for(user), name=name, kind="static")
    if ids:
        services.list_add(actor=actor_for(user), segment=segment, contact_ids=ids)
        segment.refresh_from_db()
    return segment


def builder_post(province: str = "ha-noi", **extra: str) -> dict[str, str]:
    data = {
        "name": "Hà Nội leads",
        "kind": "dynamic",
        "n__op": "all",
        "n-0__kind": "field",
        "n-0__field": "province",
        "n-0__operator": "eq",
        "n-0__value": province,
    }
    data.update(extra)
    return data


# --- permissions ------------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client: Any, admin: Any) -> None:
    segment = static(admin)
    for url in ("/segments/", "/segments/new", f"/segments/{segment.pk}/", f"/segments/{segment.pk}/edit"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response["Location"], url


def test_sales_reads_but_cannot_change(client_for: Any, users: Any, hanoi: Any) -> None:
    segment = dynamic(users["admin"])
    lst = static(users["admin"], ids=[hanoi[0].pk])
    client = client_for(users["sales"])
    page = client.get("/segments/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Hà Nội" in html and 'href="/segments/"' in html  # the nav link
    assert "New segment" not in html
    detail = client.get(f"/segments/{segment.pk}/").content.decode()
    assert "Edit conditions" not in detail and "Delete" not in detail and "Snapshot to list" not in detail
    assert client.get("/segments/new").status_code == 403
    assert client.get(f"/segments/{segment.pk}/edit").status_code == 403
    assert client.post(f"/segments/{segment.pk}/delete").status_code == 403
    assert client.post(f"/segments/{segment.pk}/snapshot", {"name": "x"}).status_code == 403
    assert client.post(f"/segments/{lst.pk}/members/add", {"ids": str(hanoi[1].pk)}).status_code == 403
    assert client.post(f"/segments/{lst.pk}/members/remove", {"ids": str(hanoi[0].pk)}).status_code == 403
    assert SegmentMember.objects.filter(segment=lst).count() == 1
    assert Segment.objects.count() == 2


def test_a_role_without_segments_sees_no_link_and_gets_403(client_for: Any, make_user: Any) -> None:
    Role.objects.create(key="nosegments", name="No segments", permissions={"contact": ["view"]}, record_scope="all")
    user = make_user("nosegments")
    client = client_for(user)
    assert 'href="/segments/"' not in client.get("/contacts/").content.decode()
    assert client.get("/segments/").status_code == 403


def test_members_page_shows_only_contacts_the_user_may_see(
    client_for: Any, users: Any, make_contact: Any, hanoi: Any
) -> None:
    sales = users["sales"]
    own = make_contact(full_name="Phạm Thu Hà", province="Hà Nội", owner=sales.pk)
    other = make_contact(full_name="Đỗ Minh Khoa", province="Hà Nội", owner=users["marketing"].pk)
    segment = dynamic(users["admin"])
    assert segment.member_count == 4
    html = client_for(sales).get(f"/segments/{segment.pk}/").content.decode()
    assert own.full_name in html and hanoi[0].full_name in html  # own and unassigned
    assert other.full_name not in html
    assert 'id="member-count">3<' in html  # the members this user can see
    history = client_for(sales).get(f"/segments/{segment.pk}/?tab=history").content.decode()
    assert own.full_name in history and other.full_name not in history and "entered" in history


# --- the builder ------------------------------------------------------------------------------


def test_builder_preview_counts_describes_and_samples(client_for: Any, users: Any, hanoi: Any, others: Any) -> None:
    client = client_for(users["marketing"])
    page = client.get("/segments/new")
    assert page.status_code == 200 and 'name="n-0__kind"' in page.content.decode()
    response = client.post("/segments/builder/preview", builder_post(), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-count="2"' in html
    assert "Province / city is Hà Nội" in html
    assert hanoi[0].full_name in html and others[0].full_name not in html
    # A condition in error: the count goes, the message lands next to the condition.
    bad = builder_post(**{"n-0__field": "created_at", "n-0__operator": "after", "n-0__value": "yesterday"})
    html = client.post("/segments/builder/preview", bad, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="err-n-0"' in html and "must be a date YYYY-MM-DD" in html
    assert 'data-count="' not in html


def test_builder_structural_edits_re_render_the_tree(client_for: Any, users: Any, hanoi: Any) -> None:
    client = client_for(users["marketing"])
    data = builder_post(action="add_group:")
    html = client.post("/segments/builder/tree", data, HTTP_HX_REQUEST="true").content.decode()
    assert 'name="n-1__op"' in html and 'name="n-1-0__kind"' in html  # a nested group with one condition
    assert 'value="ha-noi" selected' in html  # the first condition kept its value
    assert 'hx-swap-oob="true"' in html  # the preview follows
    # Another field: the operators follow its type (a date field has no "contains").
    data = builder_post(**{"n-0__field": "created_at"})
    html = client.post(
        "/segments/builder/tree", data, HTTP_HX_REQUEST="true", HTTP_HX_TRIGGER_NAME="n-0__field"
    ).content.decode()
    assert 'value="within_last"' in html and 'value="contains"' not in html.split('name="n-0__operator"')[1][:600]
    # Another kind starts the condition afresh.
    data = builder_post(**{"n-0__kind": "tag"})
    html = client.post(
        "/segments/builder/tree", data, HTTP_HX_REQUEST="true", HTTP_HX_TRIGGER_NAME="n-0__kind"
    ).content.decode()
    assert 'name="n-0__tags"' in html
    # Removing the condition.
    html = client.post(
        "/segments/builder/tree", builder_post(action="remove:0"), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'name="n-0__kind"' not in html


def test_save_creates_and_a_bad_save_keeps_the_tree(client_for: Any, users: Any, hanoi: Any) -> None:
    client = client_for(users["marketing"])
    data = builder_post(
        **{
            "n-1__op": "any",
            "n-1-0__kind": "field",
            "n-1-0__field": "email",
            "n-1-0__operator": "contains",
            "n-1-0__value": "binh",
            "n-1-1__kind": "purchase",
            "n-1-1__metric": "order_count",
            "n-1-1__operator": "gte",
            "n-1-1__value": "many",
        }
    )
    response = client.post("/segments/new", data)
    assert response.status_code == 422
    html = response.content.decode()
    assert "must be a number" in html
    assert 'value="binh"' in html and 'value="many"' in html and 'name="n-1-1__metric"' in html
    assert not Segment.objects.exists()
    data["n-1-1__value"] = "0"
    data["n-1-1__operator"] = "eq"
    response = client.post("/segments/new", data)
    segment = Segment.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/segments/{segment.pk}/"
    assert segment.conditions["conditions"][1]["op"] == "any"
    assert set(segment.members.values_list("contact_id", flat=True)) == {hanoi[0].pk, hanoi[1].pk}
    # Editing: a bad name keeps the conditions on the page.
    response = client.post(f"/segments/{segment.pk}/edit", {**data, "name": ""})
    assert response.status_code == 422 and 'value="binh"' in response.content.decode()
    data["n-1-0__value"] = "an@"
    data["n-1-1__value"] = "1"  # nobody has an order: only An matches through the email
    assert client.post(f"/segments/{segment.pk}/edit", data).status_code == 302
    assert list(segment.members.values_list("contact_id", flat=True)) == [hanoi[0].pk]


def test_builder_without_javascript_applies_the_button(client_for: Any, users: Any) -> None:
    client = client_for(users["marketing"])
    response = client.post("/segments/new", builder_post(action="add_condition:"))
    assert response.status_code == 200 and 'name="n-1__kind"' in response.content.decode()
    assert not Segment.objects.exists()


# --- one segment ------------------------------------------------------------------------------


def test_detail_shows_text_chart_and_export_links(client_for: Any, users: Any, hanoi: Any) -> None:
    segment = dynamic(users["marketing"])
    html = client_for(users["marketing"]).get(f"/segments/{segment.pk}/").content.decode()
    assert "Province / city is Hà Nội" in html
    assert '<svg class="chart"' in html
    assert f"/contacts/export.csv?segment={segment.pk}" in html
    assert hanoi[1].full_name in html
    support = client_for(users["support"]).get(f"/segments/{segment.pk}/").content.decode()
    assert "export.csv" not in support  # support may not export


def test_refresh_snapshot_and_delete(client_for: Any, users: Any, hanoi: Any, settings: Any) -> None:
    client = client_for(users["marketing"])
    segment = dynamic(users["marketing"])
    settings.SEGMENTS_REFRESH_INLINE = False
    response = client.post(f"/segments/{segment.pk}/refresh", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "Refreshing" in html and 'hx-trigger="every 2s"' in html  # the page polls
    segment.refresh_from_db()
    assert segment.refresh_requested_at is not None
    services.segment_refresh(segment=segment)
    html = client.get(f"/segments/{segment.pk}/status").content.decode()
    assert "Refreshing" not in html and "every 2s" not in html
    settings.SEGMENTS_REFRESH_INLINE = True

    response = client.post(f"/segments/{segment.pk}/snapshot", {"name": "Hà Nội, July"})
    snap = Segment.objects.get(name="Hà Nội, July")
    assert response["Location"] == f"/segments/{snap.pk}/"
    assert snap.is_static and snap.member_count == 2
    assert SegmentChange.objects.filter(segment=snap, via="snapshot").count() == 2

    # A segment that another refers to cannot go.
    user_of = dynamic(
        users["marketing"], "In Hà Nội", {"op": "all", "conditions": [{"kind": "segment", "segment": segment.pk}]}
    )
    response = client.post(f"/segments/{segment.pk}/delete", follow=True)
    assert Segment.objects.filter(pk=segment.pk).exists()
    assert "In Hà Nội" in response.content.decode()
    client.post(f"/segments/{user_of.pk}/delete")
    assert client.get(f"/segments/{segment.pk}/delete").status_code == 200
    assert client.post(f"/segments/{segment.pk}/delete")["Location"] == "/segments/"
    assert not Segment.objects.filter(pk__in=[segment.pk, user_of.pk]).exists()


def test_unknown_segment_is_404_and_bad_cursor_is_not_500(client_for: Any, users: Any) -> None:
    client = client_for(users["marketing"])
    assert client.get("/segments/999999/").status_code == 404
    segment = static(users["marketing"])
    assert client.get(f"/segments/{segment.pk}/?cursor=%%%", HTTP_HX_REQUEST="true").status_code in (302, 400)
    assert client.get("/segments/?cursor=zz").status_code == 302


# --- static lists -----------------------------------------------------------------------------


def test_new_list_add_search_and_remove(client_for: Any, users: Any, hanoi: Any, others: Any) -> None:
    client = client_for(users["marketing"])
    response = client.post("/segments/new?kind=static", {"name": "Khách VIP", "kind": "static", "action": "save"})
    lst = Segment.objects.get(name="Khách VIP")
    assert lst.is_static and response["Location"] == f"/segments/{lst.pk}/"
    found = client.get(f"/segments/{lst.pk}/search", {"q": "Bình"}).content.decode()
    assert hanoi[1].full_name in found and f'value="{hanoi[1].pk}"' in found
    client.post(f"/segments/{lst.pk}/members/add", {"ids": [str(hanoi[1].pk), f"{others[0].pk}"]})
    assert set(lst.members.values_list("contact_id", flat=True)) == {hanoi[1].pk, others[0].pk}
    found = client.get(f"/segments/{lst.pk}/search", {"q": "Bình"}).content.decode()
    assert "in the list" in found
    client.post(f"/segments/{lst.pk}/members/remove", {"ids": [str(others[0].pk)]})
    assert list(lst.members.values_list("contact_id", flat=True)) == [hanoi[1].pk]
    response = client.post(f"/segments/{lst.pk}/members/add", {"ids": "abc"}, follow=True)
    assert "Not contact ids" in response.content.decode()


def test_list_import_reports_unmatched_lines(client_for: Any, users: Any, hanoi: Any, others: Any) -> None:
    client = client_for(users["marketing"])
    lst = static(users["marketing"])
    text = "an@example.vn\nnobody@example.vn\n0912 345 678\nnot an email@\n"
    response = client.post(f"/segments/{lst.pk}/members/import", {"text": text}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert set(lst.members.values_list("contact_id", flat=True)) == {hanoi[0].pk, others[0].pk}
    assert "2 contacts added" in html and "2 lines matched nobody" in html
    assert "<td>2</td><td>nobody@example.vn</td>" in html and "<td>4</td>" in html
    # A file, first column of a CSV.
    upload = SimpleUploadedFile("list.csv", "binh@example.vn,Bình\n".encode(), content_type="text/csv")
    client.post(f"/segments/{lst.pk}/members/import", {"file": upload}, HTTP_HX_REQUEST="true")
    assert lst.members.filter(contact_id=hanoi[1].pk).exists()
    # Nothing to add is a form error, not a crash.
    response = client.post(f"/segments/{lst.pk}/members/import", {"text": "  \n"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422 and "Paste at least one" in response.content.decode()
    # A dynamic segment is not a list.
    segment = dynamic(users["marketing"])
    response = client.post(f"/segments/{segment.pk}/members/import", {"text": "an@example.vn"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422


# --- the contact list, its API and exports ------------------------------------------------------


def test_contact_list_filters_by_segment(client_for: Any, users: Any, hanoi: Any, others: Any) -> None:
    lst = static(users["marketing"], ids=[others[0].pk, hanoi[0].pk])
    client = client_for(users["marketing"])
    html = client.get("/contacts/", {"segment": lst.pk}).content.decode()
    assert others[0].full_name in html and hanoi[0].full_name in html and hanoi[1].full_name not in html
    assert f'<option value="{lst.pk}" selected>' in html  # the filter's select
    html = client.get("/contacts/", {"segment": 999999}).content.decode()
    assert "no such segment or list" in html
    html = client.get("/contacts/", {"segment": "abc"}).content.decode()
    assert "a segment or list id" in html


def test_contact_api_filters_by_segment(client: Any, users: Any, hanoi: Any, others: Any) -> None:
    from danhba.accounts.services import apikey_create

    lst = static(users["marketing"], ids=[others[0].pk])
    _key, raw = apikey_create(actor=actor_for(users["marketing"]), user=users["marketing"], name="t")
    headers = {"Authorization": f"Bearer {raw}"}
    body = client.get("/api/contacts", {"segment": lst.pk}, headers=headers).json()
    assert [c["id"] for c in body["items"]] == [others[0].pk]
    response = client.get("/api/contacts", {"segment": 999999}, headers=headers)
    assert response.status_code == 422 and "segment" in response.json()["details"]
    assert client.get("/api/contacts", {"segment": "x"}, headers=headers).status_code == 422


def test_export_of_a_segment_needs_segment_export(client_for: Any, users: Any, make_user: Any, hanoi: Any) -> None:
    segment = dynamic(users["marketing"])
    response = client_for(users["marketing"]).get("/contacts/export.csv", {"segment": segment.pk})
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "an@example.vn" in text and "binh@example.vn" in text
    Role.objects.create(
        key="exporter",
        name="Exporter",
        record_scope="all",
        permissions={"contact": ["view", "export"], "segment": ["view"]},
    )
    exporter = make_user("exporter")
    response = client_for(exporter).get("/contacts/export.csv", {"segment": segment.pk})
    assert response.status_code == 302  # back to the list with the reason
    response = client_for(exporter).get("/contacts/export.csv", {"segment": segment.pk}, follow=True)
    assert "export" in response.content.decode().lower()
    from danhba.contacts.exports import export_job_create
    from danhba.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        export_job_create(actor=actor_for(exporter), fmt="csv", params={"segment": str(segment.pk)})


def test_pasted_short_numbers_are_never_contact_ids(client_for: Any, users: Any, hanoi: Any) -> None:
    """ "0999" pasted into a list used to add contact #999: a line of digits is a phone number
    (or nothing); a contact id needs its explicit form, ``#999`` or a column named id."""
    client = client_for(users["marketing"])
    lst = static(users["marketing"])
    target = hanoi[0]
    text = f"0{target.pk}\n{target.pk}\n00{target.pk}\n"
    response = client.post(f"/segments/{lst.pk}/members/import", {"text": text}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert not lst.members.exists()
    assert "3 lines matched nobody" in html and f"#{target.pk}" in html  # the hint shows the form
    response = client.post(f"/segments/{lst.pk}/members/import", {"text": f"#{target.pk}\n# x\n"},
                           HTTP_HX_REQUEST="true")  # fmt: skip
    assert set(lst.members.values_list("contact_id", flat=True)) == {target.pk}
    assert "1 line matched nobody" in response.content.decode()
    # A file: a column named id holds ids; other columns of digits stay phones.
    other = hanoi[1]
    upload = SimpleUploadedFile("list.csv", f"Name;ID\nBình;{other.pk}\n".encode(), content_type="text/csv")
    client.post(f"/segments/{lst.pk}/members/import", {"file": upload}, HTTP_HX_REQUEST="true")
    assert set(lst.members.values_list("contact_id", flat=True)) == {target.pk, other.pk}
    upload = SimpleUploadedFile("list.csv", f"0{other.pk},x\n".encode(), content_type="text/csv")
    client.post(f"/segments/{lst.pk}/members/import", {"file": upload}, HTTP_HX_REQUEST="true")
    assert lst.members.count() == 2


def test_list_files_are_read_as_csv(client_for: Any, users: Any, hanoi: Any) -> None:
    """Quoted cells (with the separator or a line break inside), ``;`` or tab between cells and a
    byte order mark, as Excel and Google Sheets write them; line numbers stay the file's."""
    from danhba.segments.forms import file_lines

    first, second = hanoi[0].pk, hanoi[1].pk
    assert file_lines(f'\ufeffName;ID\n"Trần; Bình";{first}\n') == ["", f"#{first}"]
    assert file_lines(f'Name,ID\n"Trần, Bình",{first}\n"Two\nlines",{second}\n,\nx,99x\n') == [
        "", f"#{first}", f"#{second}", "", "", "#99x",
    ]  # fmt: skip
    quoted = '\ufeff"an@example.vn","Nguyễn, An"\r\n0912 345 678\tx\r\n'
    assert file_lines(quoted) == ["an@example.vn", "0912 345 678\tx"]
    assert file_lines("Email\tTên\nan@example.vn\tAn\n") == ["Email", "an@example.vn"]
    assert file_lines("an@example.vn\n\n0912 345 678\n") == ["an@example.vn", "", "0912 345 678"]
    # Through the page: the id after a quoted name with a comma is the one added.
    client = client_for(users["marketing"])
    lst = static(users["marketing"])
    body = f'\ufeffName,ID\r\n"Trần, Bình",{second}\r\n'.encode()
    upload = SimpleUploadedFile("list.csv", body, content_type="text/csv")
    response = client.post(f"/segments/{lst.pk}/members/import", {"file": upload}, HTTP_HX_REQUEST="true")
    assert set(lst.members.values_list("contact_id", flat=True)) == {second}
    assert "matched nobody" not in response.content.decode()


# --- the builder's suggestions and first impression ----------------------------------------------


def test_a_fresh_builder_does_not_open_in_error(client_for: Any, users: Any, hanoi: Any) -> None:
    client = client_for(users["marketing"])
    html = client.get("/segments/new").content.decode()
    assert "not valid" not in html and "need a look" not in html
    assert 'id="preview-hint"' in html  # says what to do instead
    # A condition just added to a working tree is not an error either.
    html = client.post(
        "/segments/builder/tree", builder_post(action="add_condition:"), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'name="n-1__kind"' in html and "need a look" not in html and "<li>" not in html.split('id="err-n-1"')[1][:60]
    # Once a condition is filled in wrongly, it is marked.
    bad = builder_post(**{"n-0__field": "created_at", "n-0__operator": "after", "n-0__value": "yesterday"})
    html = client.post("/segments/builder/preview", bad, HTTP_HX_REQUEST="true").content.decode()
    assert "need a look" in html
    # Saving an untouched condition still says why not.
    response = client.post("/segments/new", {**builder_post(), "n-0__value": ""})
    assert response.status_code == 422


@pytest.fixture
def events(make_contact: Any) -> None:
    import datetime as dt

    from django.utils import timezone

    from danhba.tracking.models import Event
    from danhba.tracking.services.sources import source_create

    source, _key = source_create(actor=actor_for(None), name="Shop")
    buyer = make_contact(full_name="Khách Mua", province="Hà Nội")
    now = timezone.now()
    rows = [
        ("Order Completed", {"total": 350000, "coupon": "TET", "products": [{"product_id": "p1"}]}),
        ("Order Completed", {"total": 90000}),
        ("Product Viewed", {"product_id": "p1", "category": "Áo"}),
        ("Signed Up", {}),
    ]
    for i, (name, props) in enumerate(rows):
        when = now - dt.timedelta(days=i)
        Event.objects.create(source=source, message_id=f"m{i}", type="track", name=name, contact=buyer,
                             timestamp=when, received_at=when, properties=props)  # fmt: skip


def test_builder_suggests_event_and_property_names_and_warns_on_unknown_ones(
    client_for: Any, users: Any, events: Any
) -> None:
    client = client_for(users["marketing"])
    html = client.get("/segments/new").content.decode()
    datalist = html.split('<datalist id="event-names">')[1].split("</datalist>")[0]
    assert [n for n in ("Order Completed", "Product Viewed", "Signed Up") if f'value="{n}"' in datalist] == [
        "Order Completed",
        "Product Viewed",
        "Signed Up",
    ]

    # The property names of an event, for its property filters; an unseen name is a warning.
    def hints_for(name: str) -> str:
        return client.get("/segments/builder/event-hints", {"node": "n-0", "n-0__name": name}).content.decode()

    hints = hints_for("Order Completed")
    assert 'id="props-n-0"' in hints and 'value="total"' in hints and 'value="coupon"' in hints
    assert "received yet" not in hints
    hints = hints_for("Order Complete")
    assert "No event named “Order Complete” has been received yet" in hints
    # The preview warns too, and still counts (a name can be used before its first event).
    data = {
        "name": "x", "kind": "dynamic", "n__op": "all", "n-0__kind": "event", "n-0__name": "Order Complete",
        "n-0__count_op": "gte", "n-0__count_value": "1", "n-0__period": "",
    }  # fmt: skip
    html = client.post("/segments/builder/preview", data, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-count="0"' in html and "has been received yet" in html
    # An edited segment's event conditions open with their hints.
    data["n-0__name"] = "Order Completed"
    client.post("/segments/new", {**data, "n-0__where-0-property": "total", "n-0__where-0-operator": "gt",
                                  "n-0__where-0-value": "100000"})  # fmt: skip
    segment = Segment.objects.get(name="x")
    assert segment.member_count == 1
    html = client.get(f"/segments/{segment.pk}/edit").content.decode()
    assert 'list="props-n-0"' in html and '<datalist id="props-n-0">' in html


def test_event_name_suggestions_through_the_api(client: Any, users: Any, events: Any) -> None:
    from danhba.accounts.services import apikey_create

    _key, raw = apikey_create(actor=actor_for(users["marketing"]), user=users["marketing"], name="t")
    headers = {"Authorization": f"Bearer {raw}"}
    body = client.get("/api/segments/event-names", headers=headers).json()
    assert {"Order Completed", "Product Viewed", "Signed Up"} <= set(body["names"])
    body = client.get("/api/segments/event-names", {"name": "Product Viewed"}, headers=headers).json()
    assert body["seen"] is True and {"product_id", "category"} <= set(body["properties"])
    body = client.get("/api/segments/event-names", {"name": "Nope"}, headers=headers).json()
    assert body["seen"] is False and body["properties"] == []
    # A role that may not see events gets nothing of them.
    Role.objects.create(key="noevents", name="No events", permissions={"segment": ["view"], "contact": ["view"]},
                        record_scope="all")  # fmt: skip
    from danhba.accounts.models import User

    user = User.objects.create_user("ne@example.vn", "pw-123456789", role=Role.objects.get(key="noevents"))
    _key, raw = apikey_create(actor=actor_for(user), user=user, name="t")
    response = client.get("/api/segments/event-names", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 403
