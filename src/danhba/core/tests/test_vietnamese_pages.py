"""Every page of the main menu, rendered for a Vietnamese-speaking admin with data on it, is
wholly Vietnamese: no English message from the catalogue shows as text, numbers are grouped the
Vietnamese way and dates read dd/mm/yyyy.

The pages are the sidebar's links (whatever the menu holds when the test runs) plus the pages
they lead to that hold the most text: a contact, a company, a segment and its builder, a list,
an import's report, an order. A check that fails names the page and what it found there.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from danhba.conftest import actor_for
from danhba.contacts.models import Contact, LifecycleStage
from danhba.contacts.services.companies import company_save
from danhba.contacts.services.contacts import contact_create
from danhba.contacts.services.timeline import timeline_entry_save
from danhba.core.tests.test_i18n import PLACEHOLDER, PO, parse_po
from danhba.ingest import services as imports
from danhba.orders.models import Order, OrderLine
from danhba.privacy.services import consent_record
from danhba.segments import services as segments
from danhba.tracking.models import Event
from danhba.tracking.services.sources import source_create

pytestmark = pytest.mark.django_db

# English that is also Vietnamese, or a name: not a leak when it shows on a Vietnamese page.
ALLOWED = {"danhba", "Email", "Webhook", "Webhooks", "API", "Excel", "CSV", "JSON", "vCard", "Zalo", "Facebook"}
_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
_ATTRIBUTES = ("placeholder", "title", "aria-label", "alt")


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class VisibleText(HTMLParser):
    """The text a reader sees or hears: text nodes outside script/style, and the attributes
    browsers show (placeholder, tooltip) or read out (aria-label, alt). Elements marked
    ``translate="no"`` hold data as it came (an event's name and properties, a code) and those
    with a ``lang`` other than Vietnamese say what language they are in (a stage's English
    name, the switch to English): both are left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.nodes: list[str] = []
        self._hidden = 0
        self._raw_depth = 0  # open elements inside a translate="no" element

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID and self._raw_depth:
            return
        marks = dict(attrs)
        foreign = bool(marks.get("lang")) and not str(marks.get("lang")).startswith("vi")
        if self._raw_depth or marks.get("translate") == "no" or foreign:
            self._raw_depth += tag not in _VOID
            return
        if tag in ("script", "style", "template"):
            self._hidden += 1
        self.nodes += [value for name, value in attrs if name in _ATTRIBUTES and value and value.strip()]
        if tag == "input" and dict(attrs).get("type") in ("submit", "button"):
            self.nodes += [value for name, value in attrs if name == "value" and value]

    def handle_endtag(self, tag: str) -> None:
        if self._raw_depth:
            self._raw_depth -= 1
        elif tag in ("script", "style", "template"):
            self._hidden = max(0, self._hidden - 1)

    def handle_data(self, data: str) -> None:
        if not self._hidden and not self._raw_depth and data.strip():
            self.nodes.append(" ".join(data.split()))


def visible(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    return parser.nodes


# --- what counts as an English message --------------------------------------------------------


def _fragments(msgid: str) -> list[str]:
    """The literal parts of a message around its placeholders, trimmed of punctuation."""
    parts = re.split(r"%\(\w+\)[sd]|%[sd]|\{\{[^}]*\}\}", msgid)
    return [p.strip(" .,:;!?…“”\"'()[]-–—→·/*%") for p in parts]


def english_messages() -> tuple[set[str], list[str]]:
    """(single words, phrases of two words or more) of the catalogue whose Vietnamese differs.
    A fragment that the translation keeps (a name, a code) is no evidence of English."""
    words: set[str] = set()
    phrases: set[str] = set()
    for entry in parse_po(PO)[1:]:
        translations = " ".join(entry.msgstr)
        for msgid in filter(None, (entry.msgid, entry.msgid_plural)):
            if msgid in entry.msgstr or not PLACEHOLDER.sub("", msgid).strip():
                continue
            for fragment in _fragments(msgid):
                found = _WORD.findall(fragment)
                if not found or fragment in translations or fragment in ALLOWED:
                    continue
                if len(found) == 1 and len(fragment) >= 3 and fragment == found[0]:
                    words.add(fragment.lower())
                elif len(found) >= 2 and len(fragment) >= 8:
                    phrases.add(fragment)
    return words, sorted(phrases, key=len, reverse=True)


def english_on(nodes: list[str], words: set[str], phrases: list[str]) -> list[str]:
    """English messages among the visible texts: a text that is an English word of the catalogue
    on its own (a heading, a button, a column), or that holds an English phrase of it."""
    found = [n for n in nodes if n.strip(" :*·").lower() in words]
    text = " | ".join(nodes)
    folded = text.lower()
    for phrase in phrases:
        at = folded.find(phrase.lower())
        while at >= 0:
            before = folded[at - 1] if at else " "
            after = folded[at + len(phrase)] if at + len(phrase) < len(folded) else " "
            if not before.isalpha() and not after.isalpha():
                found.append(text[at : at + len(phrase)])
                break
            at = folded.find(phrase.lower(), at + 1)
    return found


# Numbers of four digits or more written without the thousands dot: "3005 liên hệ", "11360000".
# Not a digit run inside a date (/), a time (:), a phone (a leading 0, spaces), an id (#, -, _)
# or a word.
_UNGROUPED = re.compile(r"(?<![\w#/:.,+\-])[1-9]\d{3,}(?![\w/:\-])")
# English or machine dates on a Vietnamese page: "Dec. 6, 2026", "2026-12-06", "06-12-2026", "a.m.".
_FOREIGN_DATES = re.compile(
    r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.? \d{1,2}\b|\b\d{4}-\d{2}-\d{2}\b"
    r"|\b\d{2}-\d{2}-\d{4}\b|\b[ap]\.m\.|\bnoon\b|\bmidnight\b"
)


def misformatted(nodes: list[str]) -> list[str]:
    return [n for n in nodes if _UNGROUPED.search(n) or _FOREIGN_DATES.search(n)]


# --- the data ---------------------------------------------------------------------------------

NOW = timezone.now()


def _contacts(admin: Any) -> list[Contact]:
    actor = actor_for(admin)
    company = company_save(
        actor=actor, company=None, data={"name": "Công ty TNHH Hoa Sen", "industry": "Bán lẻ", "province": "ha-noi"}
    )
    lead = LifecycleStage.objects.get(key="lead")
    people = [
        contact_create(
            actor=actor,
            data={
                "full_name": name,
                "emails": [email],
                "phones": [phone],
                "tags": ["Khách sỉ"],
                "companies": [{"company_id": company.pk, "job_title": "Trưởng phòng"}],
                "lifecycle_stage": lead.key,
                "owner": admin.pk,
                "province": "ha-noi",
                "birthday": "1990-03-15",
            },
        )
        for name, email, phone in (
            ("Trần Thị Bình", "binh@example.vn", "0912 345 678"),
            ("Lê Văn Cường", "cuong@example.vn", "0903 123 456"),
        )
    ]
    Contact.objects.filter(pk=people[0].pk).update(last_activity_at=NOW - dt.timedelta(days=27))
    for kind, subject in (("call", "Gọi điện tư vấn"), ("note", "Khách hỏi giá sỉ")):
        timeline_entry_save(
            actor=actor, contact=people[0], entry=None, data={"kind": kind, "subject": subject, "body": "Hẹn gọi lại"}
        )
    consent_record(actor=actor, contact=people[0], purpose="email_marketing", status="granted", source="ui")
    return people


def _shop(people: list[Contact], admin: Any) -> Order:
    source, _key = source_create(actor=actor_for(admin), name="Cửa hàng trực tuyến", kind="website")
    for n, name in enumerate(("Order Completed", "Product Viewed", "Order Completed")):
        Event.objects.create(
            source=source, message_id=f"vi-{n}", type="track", name=name, contact=people[0],
            timestamp=NOW - dt.timedelta(hours=n), received_at=NOW, properties={"total": 11360000},
        )  # fmt: skip
    order = Order.objects.create(
        order_id="DH-1", contact=people[0], placed_at=NOW - dt.timedelta(days=3), total=Decimal(11360000),
        subtotal=Decimal(11360000), currency="VND", store="Hà Nội",
    )  # fmt: skip
    OrderLine.objects.create(order=order, position=0, name="Nồi cơm điện", quantity=2, total=Decimal(11360000))
    return order


def _segments(admin: Any, people: list[Contact]) -> tuple[Any, Any]:
    actor = actor_for(admin)
    conditions = {
        "op": "all",
        "conditions": [
            {"kind": "field", "field": "company.name", "operator": "contains", "value": "Hoa Sen"},
            {"kind": "field", "field": "owner_team", "operator": "not_empty"},
            {"kind": "purchase", "metric": "total_spent", "operator": "gt", "value": "11360000"},
            {"kind": "consent", "purpose": "email_marketing", "status": "granted"},
        ],
    }
    dynamic = segments.segment_create(actor=actor, name="Khách sỉ Hà Nội", conditions=conditions)
    static = segments.segment_create(actor=actor, name="Khách mời hội thảo", kind="static")
    segments.list_add(actor=actor, segment=static, contact_ids=[c.pk for c in people])
    return dynamic, static


# A clean file: the report's reasons for rejected rows are ingest's (ingest/tests check them).
CSV = (
    "Họ và tên,Số điện thoại,Email,Ngày sinh\n"
    "Phạm Quốc Việt,0909 888 777,viet@example.vn,15/03/1985\n"
    "Đỗ Thu Hà,0988 111 222,ha.do@example.vn,01/02/2000\n"
)


def _import(admin: Any) -> Any:
    actor = actor_for(admin, via="cli")
    run = imports.import_create(actor=actor, file=CSV.encode(), file_name="khach-hang.csv")
    run = imports.import_configure(
        actor=actor, run=run, source="import", consent_purposes=["email_marketing"], consent_proof="Phiếu giấy"
    )
    imports.import_start(actor=actor, run=run, enqueue=False)
    run = imports.import_execute(run.pk, via="cli")
    # Counts of a big file, so the report and the history show numbers of four digits or more.
    type(run).objects.filter(pk=run.pk).update(created=3005, rows_done=3007, rows_estimate=3007, updated=1200)
    return run


@pytest.fixture
def vi_site(users: dict[str, Any]) -> dict[str, Any]:
    admin = users["admin"]
    admin.language = "vi"
    admin.full_name = "Nguyễn Quản Trị"
    admin.save(update_fields=["language", "full_name"])
    # The other users are people too, named as a Vietnamese team would be (the fixture names
    # them after their roles, which the pages show translated).
    for n, user in enumerate(u for key, u in sorted(users.items()) if key != "admin"):
        user.full_name = ("Trần Thị Mai", "Lê Văn Hùng", "Phạm Minh Tuấn", "Võ Thị Lan", "Đỗ Văn Nam")[n % 5]
        user.save(update_fields=["full_name"])
    people = _contacts(admin)
    order = _shop(people, admin)
    dynamic, static = _segments(admin, people)
    run = _import(admin)
    return {"admin": admin, "contact": people[0], "order": order, "segment": dynamic, "list": static, "import": run}


def menu_links(html: str) -> list[str]:
    """The pages the main menu links to (the sidebar's menu and its foot: the profile); the API's
    own documentation page is the API's business."""
    start = html.find("<aside")
    menu = html[start : html.index("</aside>", start)] if start >= 0 else html[html.index("<nav") :]
    links = re.findall(r'<a\b[^>]*\bhref="(/[^"#?]*)"', menu)
    return [link for link in dict.fromkeys(links) if not link.startswith(("/api/", "/static/"))]


def pages(client: Any, site: dict[str, Any]) -> list[str]:
    first = client.get(reverse("contacts:list")).content.decode()
    company = site["contact"].companies.first()
    return [
        *menu_links(first),
        reverse("contacts:detail", args=[site["contact"].pk]),
        reverse("contacts:company_detail", args=[company.pk]),
        reverse("segments:detail", args=[site["segment"].pk]),
        reverse("segments:edit", args=[site["segment"].pk]),
        reverse("segments:create"),
        reverse("segments:detail", args=[site["list"].pk]),
        reverse("ingest:detail", args=[site["import"].pk]),
        reverse("orders:detail", args=[site["order"].order_id]),
        # The forms and tabs those pages lead to.
        reverse("contacts:create"),
        reverse("contacts:export_list"),
        reverse("ingest:new"),
        reverse("orders:products"),
        reverse("accounts:user_edit", args=[site["admin"].pk]),
        reverse("accounts:role_edit", args=[site["admin"].role_id]),
        *(f"{reverse('settings:index')}?tab={tab}" for tab in ("fields", "stages", "tags", "purposes")),
    ]


def check(pages_found: dict[str, list[str]]) -> str:
    return "\n".join(f"{page}: {items}" for page, items in pages_found.items() if items)


def test_every_page_of_the_menu_speaks_vietnamese(client_for: Any, vi_site: dict[str, Any]) -> None:
    client = client_for(vi_site["admin"])
    words, phrases = english_messages()
    english: dict[str, list[str]] = {}
    formats: dict[str, list[str]] = {}
    visited = pages(client, vi_site)
    assert len(visited) >= 15, visited
    for url in visited:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert '<html lang="vi">' in html, url
        nodes = visible(html)
        english[url] = sorted(set(english_on(nodes, words, phrases)))
        formats[url] = misformatted(nodes)
    assert not check(english), "English on Vietnamese pages:\n" + check(english)
    assert not check(formats), "numbers or dates not written the Vietnamese way:\n" + check(formats)


# --- the check itself ---------------------------------------------------------------------------


def test_the_check_finds_english_words_phrases_and_formats() -> None:
    words, phrases = english_messages()
    nodes = visible(
        "<h1>Liên hệ</h1><th>Owner</th><p>Tìm thấy <b>3 contacts</b>, Last activity: 3 weeks ago</p>"
        '<input placeholder="tags, separated by commas"><script>var a = "Log out";</script>'
    )
    found = english_on(nodes, words, phrases)
    assert "Owner" in found and "Last activity" in found and "tags, separated by commas" in found
    assert "Log out" not in found  # a script is no visible text
    raw = visible('<p>Sự kiện</p><div translate="no"><b>Order Completed</b><br>total: 11360000</div><p>Hết</p>')
    assert raw == ["Sự kiện", "Hết"]  # data as it came is no message
    assert visible('<td><span lang="en">Customer</span></td><td>Khách hàng</td>') == ["Khách hàng"]
    assert english_on(visible("<h1>Liên hệ</h1><th>Người phụ trách</th><td>Trần Thị Bình</td>"), words, phrases) == []
    assert misformatted(["3005 liên hệ", "11360000 VND", "Dec. 6, 2026", "7:05 a.m."]) == [
        "3005 liên hệ", "11360000 VND", "Dec. 6, 2026", "7:05 a.m.",
    ]  # fmt: skip
    fine: Iterable[str] = ["3.005 liên hệ", "11.360.000 ₫", "06/12/2026", "07:05 06/12/2026", "0912 345 678", "#1234"]
    assert misformatted(list(fine)) == []
