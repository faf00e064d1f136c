"""The compiler: for every operator and condition kind, the contacts that match and those that do
not (empty and missing values included), at a fixed ``now`` in Asia/Ho_Chi_Minh.

``check`` also asserts that the condition inside a ``none`` group matches exactly the other
contacts: every condition is two-valued, so NOT never loses contacts with empty values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from danhba.conftest import actor_for
from danhba.contacts.models import Company, Contact, ContactCompany, CustomField
from danhba.core.actor import Actor
from danhba.segments.compiler import matching, tree_q
from danhba.segments.conditions import clean
from danhba.segments.models import Segment, SegmentMember

pytestmark = pytest.mark.django_db

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
# 10:00 on Saturday 15 March 2025 in Hồ Chí Minh City (03:00 UTC).
NOW = dt.datetime(2025, 3, 15, 10, 0, tzinfo=HCM)
SYSTEM = Actor.system("cli")


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=HCM)  # type: ignore[misc]


def one(cond: dict[str, Any]) -> dict[str, Any]:
    return {"op": "all", "conditions": [cond]}


def fld(field: str, operator: str, value: Any = None, days: int | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"kind": "field", "field": field, "operator": operator}
    if value is not None:
        node["value"] = value
    if days is not None:
        node["days"] = days
    return node


def names(tree: dict[str, Any], now: dt.datetime = NOW, among: Any = None) -> set[str]:
    return set(matching(clean(tree), now=now, among=among).values_list("full_name", flat=True))


def everyone() -> set[str]:
    return set(Contact.objects.values_list("full_name", flat=True))


def check(cond: dict[str, Any], expected: set[str], now: dt.datetime = NOW) -> None:
    assert names(one(cond), now) == expected, cond
    assert names({"op": "none", "conditions": [cond]}, now) == everyone() - expected, cond


def check_all(cases: list[tuple[dict[str, Any], set[str]]], now: dt.datetime = NOW) -> None:
    """``check`` each case on the same data, reporting every wrong one."""
    wrong = []
    for cond, expected in cases:
        try:
            check(cond, expected, now)
        except AssertionError as exc:
            wrong.append(f"{cond}: {exc}")
    assert not wrong, "\n".join(wrong)


# --- standard fields -----------------------------------------------------------------------------


@pytest.fixture
def people(make_contact: Callable[..., Any], users: dict[str, Any]) -> dict[str, Any]:
    from danhba.accounts.models import Team

    team = Team.objects.create(name="North")
    sales, marketing = users["sales"], users["marketing"]
    sales.team = team
    sales.save()
    make_contact(
        full_name="Nguyễn Văn An",
        occupation="Software engineer",
        province="Hà Nội",
        lifecycle_stage="lead",
        buyer_role="decision_maker",
        owner=sales.pk,
        emails=[{"email": "an@example.vn"}],
        birthday="1990-03-20",
    )
    make_contact(
        full_name="Trần Thị Bình",
        occupation="engineering manager",
        province="Đà Nẵng",
        lifecycle_stage="customer",
        owner=marketing.pk,
        birthday="1985-12-31",
    )
    make_contact(full_name="Lê Chi", occupation="Teacher", lifecycle_stage="lead")
    make_contact(full_name="Phạm Dũng", occupation="", lifecycle_stage="subscriber")
    return {"sales": sales, "marketing": marketing, "team": team}


A, B, C_, D = "Nguyễn Văn An", "Trần Thị Bình", "Lê Chi", "Phạm Dũng"


TEXT_FIELDS_CASES: list[tuple[dict[str, Any], set[str]]] = [
    (fld("occupation", "eq", "Teacher"), {C_}),
    (fld("occupation", "eq", "teacher"), set()),  # eq is exact
    (fld("occupation", "ne", "Teacher"), {A, B, D}),  # the empty value included
    (fld("occupation", "contains", "ENGINEER"), {A, B}),
    (fld("occupation", "not_contains", "engineer"), {C_, D}),
    (fld("occupation", "starts_with", "eng"), {B}),
    (fld("occupation", "in", ["Teacher", "Software engineer"]), {A, C_}),
    (fld("occupation", "not_in", ["Teacher", "Software engineer"]), {B, D}),
    (fld("occupation", "empty"), {D}),
    (fld("occupation", "not_empty"), {A, B, C_}),
    (fld("ward", "empty"), {A, B, C_, D}),
    (fld("email", "eq", "an@example.vn"), {A}),
    (fld("email", "empty"), {B, C_, D}),
]


def test_text_fields(people: Any) -> None:
    check_all(TEXT_FIELDS_CASES)


FULL_NAME_IS_FOLDED_CASES: list[tuple[dict[str, Any], set[str]]] = [
    # The full name is compared folded: case and diacritics do not matter.
    (fld("full_name", "eq", "nguyen van an"), {A}),
    (fld("full_name", "eq", "NGUYỄN VĂN AN"), {A}),
    (fld("full_name", "contains", "thi"), {B}),
    (fld("full_name", "contains", "Văn"), {A}),
    (fld("full_name", "starts_with", "le"), {C_}),
    (fld("full_name", "not_contains", "n"), {C_}),
    (fld("full_name", "in", ["Le Chi", "pham dung"]), {C_, D}),
]


def test_full_name_is_folded(people: Any) -> None:
    check_all(FULL_NAME_IS_FOLDED_CASES)


def test_choice_fields(people: dict[str, Any]) -> None:
    sales, marketing, team = people["sales"], people["marketing"], people["team"]
    check(fld("lifecycle_stage", "eq", "lead"), {A, C_})
    check(fld("lifecycle_stage", "ne", "lead"), {B, D})
    check(fld("lifecycle_stage", "in", ["customer", "subscriber"]), {B, D})
    check(fld("lifecycle_stage", "not_in", ["customer", "subscriber"]), {A, C_})
    check(fld("lifecycle_stage", "empty"), set())
    check(fld("buyer_role", "eq", "decision_maker"), {A})
    check(fld("buyer_role", "ne", "decision_maker"), {B, C_, D})  # no buyer role is "not decision maker"
    check(fld("buyer_role", "empty"), {B, C_, D})
    check(fld("owner", "eq", str(sales.pk)), {A})
    check(fld("owner", "ne", sales.pk), {B, C_, D})
    check(fld("owner", "in", [sales.pk, marketing.pk]), {A, B})
    check(fld("owner", "empty"), {C_, D})
    check(fld("owner_team", "eq", team.pk), {A})
    check(fld("owner_team", "ne", team.pk), {B, C_, D})
    check(fld("owner_team", "empty"), {B, C_, D})
    check(fld("province", "eq", "ha-noi"), {A})
    check(fld("province", "not_in", ["ha-noi", "da-nang"]), {C_, D})
    check(fld("province", "empty"), {C_, D})


BIRTHDAY_CASES: list[tuple[dict[str, Any], set[str]]] = [
    (fld("birthday", "eq", "1990-03-20"), {A}),
    (fld("birthday", "before", "1990-03-20"), {B}),
    (fld("birthday", "after", "1990-03-19"), {A}),
    (fld("birthday", "after", "1990-03-20"), set()),
    (fld("birthday", "between", ["1985-12-31", "1990-03-20"]), {A, B}),
    (fld("birthday", "between", ["1986-01-01", "1990-03-19"]), set()),
    (fld("birthday", "within_last", days=365 * 40), {A, B}),
    (fld("birthday", "over_days_ago", days=365 * 36), {B}),
    (fld("birthday", "within_next", days=30), set()),
    # Today is 15 March: An's birthday (20 March) is 5 days ahead, Bình's (31 Dec) is not.
    (fld("birthday", "anniversary_within", days=5), {A}),
    (fld("birthday", "anniversary_within", days=4), set()),
    (fld("birthday", "anniversary_within", days=365), {A, B}),
    (fld("birthday", "empty"), {C_, D}),
    (fld("birthday", "not_empty"), {A, B}),
]


def test_birthday(people: Any) -> None:
    check_all(BIRTHDAY_CASES)


def _birthdays(make_contact: Callable[..., Any], days: dict[str, str]) -> None:
    for name, day in days.items():
        make_contact(full_name=name, birthday=day)


def test_anniversary_across_year_end(make_contact: Callable[..., Any]) -> None:
    _birthdays(
        make_contact,
        {"Dec 27": "1990-12-27", "Dec 28": "1991-12-28", "Dec 31": "1980-12-31", "Jan 3": "2000-01-03",
         "Jan 4": "2001-01-04", "Jan 5": "1999-01-05", "Jun 1": "1970-06-01"},
    )  # fmt: skip
    # 01:00 on 28 December in Vietnam is still 27 December in UTC: today is the 28th.
    now = dt.datetime(2025, 12, 27, 18, 0, tzinfo=dt.UTC)
    check(fld("birthday", "anniversary_within", days=7), {"Dec 28", "Dec 31", "Jan 3", "Jan 4"}, now)
    check(fld("birthday", "anniversary_within", days=0), {"Dec 28"}, now)
    check(fld("birthday", "anniversary_within", days=3), {"Dec 28", "Dec 31"}, now)


def test_anniversary_of_29_february(make_contact: Callable[..., Any]) -> None:
    _birthdays(make_contact, {"Leap": "2000-02-29", "Mar 2": "1990-03-02", "Mar 3": "1990-03-03"})
    now = local(2025, 2, 27, 9)
    check(fld("birthday", "anniversary_within", days=3), {"Leap", "Mar 2"}, now)
    check(fld("birthday", "anniversary_within", days=1), set(), now)


def test_datetime_fields_use_local_days(make_contact: Callable[..., Any]) -> None:
    moments = {
        # 23:59 on 14 March in Vietnam (16:59 UTC): still the 14th.
        "Late 14th": dt.datetime(2025, 3, 14, 16, 59, tzinfo=dt.UTC),
        # 00:30 on 15 March in Vietnam although the UTC date is the 14th.
        "Early 15th": dt.datetime(2025, 3, 14, 17, 30, tzinfo=dt.UTC),
        "Last Year": local(2024, 3, 1, 12),
    }
    for name, when in moments.items():
        c = make_contact(full_name=name)
        Contact.objects.filter(pk=c.pk).update(created_at=when)
    check(fld("created_at", "before", "2025-03-15"), {"Late 14th", "Last Year"})
    check(fld("created_at", "after", "2025-03-14"), {"Early 15th"})
    check(fld("created_at", "between", ["2025-03-15", "2025-03-15"]), {"Early 15th"})
    check(fld("created_at", "between", ["2025-03-14", "2025-03-14"]), {"Late 14th"})
    # within_last / over_days_ago count from the instant now (10:00 on the 15th).
    check(fld("created_at", "within_last", days=0), set())
    check(fld("created_at", "within_last", days=1), {"Late 14th", "Early 15th"})
    check(fld("created_at", "over_days_ago", days=300), {"Last Year"})
    check(fld("created_at", "within_next", days=5), set())
    check(fld("created_at", "not_empty"), {"Late 14th", "Early 15th", "Last Year"})


# --- custom fields -------------------------------------------------------------------------------


@pytest.fixture
def custom_fields(db: Any) -> dict[str, CustomField]:
    defs = {
        "score": CustomField.Type.NUMBER,
        "ratio": CustomField.Type.DECIMAL,
        "joined": CustomField.Type.DATE,
        "seen": CustomField.Type.DATETIME,
        "vip": CustomField.Type.BOOLEAN,
        "plan": CustomField.Type.CHOICE,
        "likes": CustomField.Type.MULTI_CHOICE,
        "nick": CustomField.Type.TEXT,
    }
    choices = {"plan": ["free", "pro"], "likes": ["tea", "coffee", "milk"]}
    return {
        key: CustomField.objects.create(key=key, label=key.title(), type=t, choices=choices.get(key, []))
        for key, t in defs.items()
    }


def _custom_contacts(make_contact: Callable[..., Any], raw: dict[str, dict[str, Any]]) -> None:
    """Contacts whose ``custom`` JSON is exactly ``raw[name]`` (wrong types written straight to the
    column, as data left behind by a field whose type changed)."""
    for name, custom in raw.items():
        c = make_contact(full_name=name)
        Contact.objects.filter(pk=c.pk).update(custom=custom)


def test_custom_values_written_through_the_service(make_contact: Callable[..., Any], custom_fields: Any) -> None:
    make_contact(
        full_name="Typed",
        custom={"score": "12", "ratio": "2.50", "joined": "2024-05-01", "vip": "có", "likes": "tea, milk"},
    )
    make_contact(full_name="Untyped")
    check(fld("custom.score", "eq", 12), {"Typed"})
    check(fld("custom.ratio", "gt", "2.4"), {"Typed"})
    check(fld("custom.joined", "eq", "2024-05-01"), {"Typed"})
    check(fld("custom.vip", "is_true"), {"Typed"})
    check(fld("custom.likes", "contains", "milk"), {"Typed"})


NUMBERS = {
    "Int 5": {"score": 5},
    "Int 12": {"score": 12},
    "Float 7.5": {"score": 7.5},
    "Text 20": {"score": "20"},
    "Text -3.25": {"score": "-3.25"},
    "Exponent": {"score": "1e3"},
    "Dot First": {"score": ".5"},
    "Two Dots": {"score": "1.2.3"},
    "Word": {"score": "abc"},
    "Bool": {"score": True},
    "List": {"score": [5]},
    "Null": {"score": None},
    "Empty Text": {"score": ""},
    "Missing": {},
}
NOT_NUMBERS = {"Exponent", "Dot First", "Two Dots", "Word", "Bool", "List", "Null", "Empty Text", "Missing"}


CUSTOM_NUMBERS_CASES: list[tuple[dict[str, Any], set[str]]] = [
    (fld("custom.score", "eq", 5), {"Int 5"}),
    (fld("custom.score", "eq", "7.5"), {"Float 7.5"}),
    (fld("custom.score", "ne", 5), set(NUMBERS) - {"Int 5"}),
    (fld("custom.score", "gt", 7.5), {"Int 12", "Text 20"}),
    (fld("custom.score", "gte", 7.5), {"Float 7.5", "Int 12", "Text 20"}),
    (fld("custom.score", "lt", 0), {"Text -3.25"}),
    (fld("custom.score", "lte", 5), {"Int 5", "Text -3.25"}),
    (fld("custom.score", "between", [5, 12]), {"Int 5", "Float 7.5", "Int 12"}),
    (fld("custom.score", "empty"), {"Null", "Empty Text", "Missing"}),
    (fld("custom.score", "not_empty"), set(NUMBERS) - {"Null", "Empty Text", "Missing"}),
]


def test_custom_numbers(make_contact: Callable[..., Any], custom_fields: Any) -> None:
    _custom_contacts(make_contact, NUMBERS)
    check_all(CUSTOM_NUMBERS_CASES)
    # Whatever the operator, values that are not numbers never satisfy a comparison.
    for cond, expected in CUSTOM_NUMBERS_CASES:
        if cond["operator"] not in ("ne", "empty", "not_empty"):
            assert not expected & NOT_NUMBERS


TEXTS = {
    "Plain": {"nick": "Bee 50%"},
    "Underscore": {"nick": "a_b"},
    "Number": {"nick": 42},
    "Bool": {"nick": True},
    "Object": {"nick": {"x": 1}},
    "Empty": {"nick": ""},
    "Missing": {},
}


CUSTOM_TEXT_CASES: list[tuple[dict[str, Any], set[str]]] = [
    (fld("custom.nick", "eq", "Bee 50%"), {"Plain"}),
    (fld("custom.nick", "eq", "42"), {"Number"}),
    (fld("custom.nick", "ne", "42"), set(TEXTS) - {"Number"}),
    # LIKE wildcards in the value are literal.
    (fld("custom.nick", "contains", "50%"), {"Plain"}),
    (fld("custom.nick", "contains", "0%"), {"Plain"}),
    (fld("custom.nick", "contains", "_"), {"Underscore"}),
    (fld("custom.nick", "contains", "BEE"), {"Plain"}),
    (fld("custom.nick", "starts_with", "4"), {"Number"}),
    (fld("custom.nick", "not_contains", "b"), set(TEXTS) - {"Plain", "Underscore"}),
    (fld("custom.nick", "in", ["a_b", "42", "true"]), {"Underscore", "Number"}),
    (fld("custom.nick", "empty"), {"Empty", "Missing"}),
]


def test_custom_text(make_contact: Callable[..., Any], custom_fields: Any) -> None:
    _custom_contacts(make_contact, TEXTS)
    check_all(CUSTOM_TEXT_CASES)


def test_custom_boolean_choice_and_multi(make_contact: Callable[..., Any], custom_fields: Any) -> None:
    _custom_contacts(
        make_contact,
        {
            "Yes": {"vip": True, "plan": "pro", "likes": ["tea", "milk"]},
            "No": {"vip": False, "plan": "free", "likes": []},
            "Text Yes": {"vip": "true", "plan": "PRO", "likes": "tea"},
            "One": {"vip": 1, "likes": ["coffee"]},
            "Missing": {},
        },
    )
    check(fld("custom.vip", "is_true"), {"Yes"})
    check(fld("custom.vip", "is_false"), {"No"})
    check(fld("custom.vip", "empty"), {"Missing"})
    check(fld("custom.plan", "eq", "pro"), {"Yes"})
    check(fld("custom.plan", "ne", "pro"), {"No", "Text Yes", "One", "Missing"})
    check(fld("custom.plan", "in", ["pro", "free"]), {"Yes", "No"})
    check(fld("custom.likes", "contains", "tea"), {"Yes"})  # a string is not a list
    check(fld("custom.likes", "not_contains", "tea"), {"No", "Text Yes", "One", "Missing"})
    check(fld("custom.likes", "empty"), {"No", "Missing"})


DATES = {
    "Day": {"joined": "2025-03-10", "seen": "2025-03-14T17:30:00+00:00"},
    "Old": {"joined": "2020-01-01", "seen": "2025-03-14T16:59:00+00:00"},
    "Birthday Soon": {"joined": "2001-03-17"},
    "Number": {"joined": 5, "seen": 5},
    "Word": {"joined": "zzz", "seen": "zzz"},
    "Missing": {},
}


CUSTOM_DATES_CASES: list[tuple[dict[str, Any], set[str]]] = [
    (fld("custom.joined", "eq", "2025-03-10"), {"Day"}),
    (fld("custom.joined", "before", "2025-03-10"), {"Old", "Birthday Soon"}),
    # Wrong types ("zzz" sorts after any date as text, so does 5) never match.
    (fld("custom.joined", "after", "2020-01-01"), {"Day"}),
    (fld("custom.joined", "between", ["2020-01-01", "2025-03-10"]), {"Old", "Day"}),
    (fld("custom.joined", "within_last", days=5), {"Day"}),
    (fld("custom.joined", "within_last", days=4), set()),
    (fld("custom.joined", "over_days_ago", days=5), {"Old", "Birthday Soon"}),
    (fld("custom.joined", "within_next", days=5), set()),
    (fld("custom.joined", "anniversary_within", days=2), {"Birthday Soon"}),
    (fld("custom.joined", "empty"), {"Missing"}),
    # Datetimes are stored in UTC and compared on local days.
    (fld("custom.seen", "before", "2025-03-15"), {"Old"}),
    (fld("custom.seen", "after", "2025-03-14"), {"Day"}),
    (fld("custom.seen", "between", ["2025-03-14", "2025-03-14"]), {"Old"}),
    (fld("custom.seen", "within_last", days=1), {"Day", "Old"}),
    (fld("custom.seen", "over_days_ago", days=1), set()),
    (fld("custom.seen", "empty"), {"Birthday Soon", "Missing"}),
]


def test_custom_dates(make_contact: Callable[..., Any], custom_fields: Any) -> None:
    _custom_contacts(make_contact, DATES)
    check_all(CUSTOM_DATES_CASES)


# --- companies -----------------------------------------------------------------------------------


def test_company_fields_match_any_company(make_contact: Callable[..., Any]) -> None:
    two = make_contact(full_name="Two Companies")
    one_ = make_contact(full_name="One Company")
    make_contact(full_name="No Company")
    bank = Company.objects.create(name="Vietcombank", name_key="vietcombank", industry="Banking", province="ha-noi")
    shop = Company.objects.create(name="Shop", name_key="shop", industry="retail")
    blank = Company.objects.create(name="Blank", name_key="blank")
    ContactCompany.objects.create(contact=two, company=bank)
    ContactCompany.objects.create(contact=two, company=shop)
    ContactCompany.objects.create(contact=one_, company=blank)
    check(fld("company.industry", "eq", "Banking"), {"Two Companies"})
    check(fld("company.industry", "ne", "Banking"), {"One Company", "No Company"})
    check(fld("company.industry", "contains", "RET"), {"Two Companies"})
    check(fld("company.industry", "not_empty"), {"Two Companies"})
    check(fld("company.industry", "empty"), {"One Company", "No Company"})
    check(fld("company.name", "starts_with", "viet"), {"Two Companies"})
    check(fld("company.province", "in", ["ha-noi"]), {"Two Companies"})
    check(fld("company.domain", "empty"), {"Two Companies", "One Company", "No Company"})


# --- tags and consent ----------------------------------------------------------------------------


def test_tags(make_contact: Callable[..., Any]) -> None:
    make_contact(full_name="Both", tags=["VIP", "Khách sỉ"])
    make_contact(full_name="Vip", tags=["vip"])
    make_contact(full_name="Other", tags=["newsletter"])
    make_contact(full_name="None")
    # Tags are compared folded, like their unique key.
    check({"kind": "tag", "operator": "any", "tags": ["vip"]}, {"Both", "Vip"})
    check({"kind": "tag", "operator": "any", "tags": ["KHACH SI", "newsletter"]}, {"Both", "Other"})
    check({"kind": "tag", "operator": "all", "tags": ["VIP", "khách sỉ"]}, {"Both"})
    check({"kind": "tag", "operator": "all", "tags": ["vip", "VIP"]}, {"Both", "Vip"})
    check({"kind": "tag", "operator": "all", "tags": ["vip", "unknown"]}, set())
    check({"kind": "tag", "operator": "none", "tags": ["vip"]}, {"Other", "None"})
    check({"kind": "tag", "operator": "none", "tags": ["unknown"]}, {"Both", "Vip", "Other", "None"})


def test_consent(make_contact: Callable[..., Any]) -> None:
    from danhba.privacy.services import consent_record

    granted = make_contact(full_name="Granted")
    withdrawn = make_contact(full_name="Withdrawn")
    other = make_contact(full_name="Other Purpose")
    make_contact(full_name="Never Asked")
    for contact, status in ((granted, "granted"), (withdrawn, "granted"), (withdrawn, "withdrawn")):
        consent_record(actor=SYSTEM, contact=contact, purpose="email_marketing", status=status, source="form")
    consent_record(actor=SYSTEM, contact=other, purpose="sms_marketing", status="granted", source="form")

    def consent(status: str) -> dict[str, Any]:
        return {"kind": "consent", "purpose": "email_marketing", "status": status}

    check(consent("granted"), {"Granted"})
    check(consent("withdrawn"), {"Withdrawn"})
    check(consent("unknown"), {"Other Purpose", "Never Asked"})


# --- events --------------------------------------------------------------------------------------


@pytest.fixture
def track(db: Any) -> Callable[..., None]:
    from danhba.tracking.models import Event
    from danhba.tracking.services.sources import source_create

    source, _key = source_create(actor=SYSTEM, name="Shop")
    counter = {"n": 0}

    def add(contact: Any, name: str, when: dt.datetime, type: str = "track", **properties: Any) -> None:
        counter["n"] += 1
        Event.objects.create(
            source=source, message_id=f"m{counter['n']}", type=type, name=name,
            contact=contact, timestamp=when, received_at=when, properties=properties,
        )  # fmt: skip

    return add


def _ev(name: str = "Order Completed", operator: str = "gte", n: int = 1, **extra: Any) -> dict[str, Any]:
    return {"kind": "event", "name": name, "count": {"operator": operator, "value": n}, **extra}


@pytest.fixture
def shoppers(make_contact: Callable[..., Any], track: Callable[..., None]) -> None:
    three = make_contact(full_name="Three")
    old = make_contact(full_name="Old")
    once = make_contact(full_name="Once")
    make_contact(full_name="Never")
    for days, total in ((1, "150000"), (30, "90000"), (89, 20)):
        track(three, "Order Completed", NOW - dt.timedelta(days=days), total=total, coupon="TET")
    track(three, "Order Completed", NOW - dt.timedelta(days=200), total="1e3")
    for days in (100, 120, 400):
        track(old, "Order Completed", NOW - dt.timedelta(days=days), total=".5")
    track(once, "Order Completed", NOW - dt.timedelta(days=2), type="page", total="5.", coupon="")
    track(once, "Viewed Product", NOW - dt.timedelta(days=2))
    track(None, "Order Completed", NOW - dt.timedelta(days=1))  # anonymous: nobody's


EVENTS_CASES: list[tuple[dict[str, Any], set[str]]] = [
    (_ev(), {"Three", "Old", "Once"}),
    (_ev(operator="gte", n=0), {"Three", "Old", "Once", "Never"}),
    (_ev(operator="gte", n=3, period={"last_days": 90}), {"Three"}),
    (_ev(operator="gte", n=4, period={"last_days": 90}), set()),
    (_ev(operator="gte", n=3), {"Three", "Old"}),
    (_ev(operator="eq", n=0), {"Never"}),
    (_ev(operator="eq", n=0, period={"last_days": 90}), {"Old", "Never"}),
    (_ev(operator="lte", n=0, period={"last_days": 90}), {"Old", "Never"}),
    (_ev(operator="lte", n=1, period={"last_days": 90}), {"Once", "Old", "Never"}),
    (_ev(operator="eq", n=2, period={"from": "2024-11-01", "to": "2025-01-01"}), {"Old"}),
    (_ev(operator="eq", n=4), {"Three"}),
    (_ev(name="order completed"), set()),  # event names are exact
    (_ev(event_type="page"), {"Once"}),
    (_ev(event_type="track", period={"last_days": 3}), {"Three"}),
    (_ev(where=[{"property": "coupon", "operator": "eq", "value": "TET"}]), {"Three"}),
    (_ev(where=[{"property": "coupon", "operator": "ne", "value": "TET"}]), {"Three", "Old", "Once"}),
    (_ev(where=[{"property": "coupon", "operator": "contains", "value": "e"}]), {"Three"}),
    (_ev(where=[{"property": "coupon", "operator": "exists"}]), {"Three"}),
    (_ev(where=[{"property": "coupon", "operator": "not_exists"}], n=2), {"Old"}),
    # Numbers: JSON numbers and plain decimal strings; "1e3", ".5" and "5." are not numbers.
    (_ev(where=[{"property": "total", "operator": "gt", "value": 50000}]), {"Three"}),
    (_ev(where=[{"property": "total", "operator": "gte", "value": 20}], n=3), {"Three"}),
    (_ev(where=[{"property": "total", "operator": "lt", "value": 100}]), {"Three"}),
    (_ev(where=[{"property": "total", "operator": "lte", "value": 1000000}], n=4), set()),
    (_ev(where=[{"property": "total", "operator": "eq", "value": "1e3"}]), {"Three"}),
    (
        _ev(
            where=[
                {"property": "total", "operator": "gte", "value": 90000},
                {"property": "coupon", "operator": "eq", "value": "TET"},
            ],
            operator="eq",
            n=2,
        ),
        {"Three"},
    ),
]


def test_events(shoppers: None) -> None:
    check_all(EVENTS_CASES)


def test_event_period_uses_local_days(make_contact: Callable[..., Any], track: Callable[..., None]) -> None:
    late = make_contact(full_name="Late")
    early = make_contact(full_name="Early")
    track(late, "Visit", dt.datetime(2025, 3, 9, 16, 59, tzinfo=dt.UTC))  # 23:59 on the 9th, local
    track(early, "Visit", dt.datetime(2025, 3, 9, 17, 0, tzinfo=dt.UTC))  # 00:00 on the 10th, local
    check(_ev("Visit", period={"from": "2025-03-10", "to": "2025-03-10"}), {"Early"})
    check(_ev("Visit", period={"from": "2025-03-01", "to": "2025-03-09"}), {"Late"})


EVENT_TIME_CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"which": "last", "operator": "within_last", "days": 7}, {"Three", "Once"}),
    ({"which": "first", "operator": "within_last", "days": 7}, {"Once"}),
    ({"which": "last", "operator": "over_days_ago", "days": 30}, {"Old"}),
    ({"which": "first", "operator": "before", "value": "2024-02-10"}, {"Old"}),
    ({"which": "first", "operator": "before", "value": "2024-02-09"}, set()),
    ({"which": "first", "operator": "after", "value": "2024-08-26"}, {"Once", "Three"}),
    ({"which": "last", "operator": "between", "value": ["2025-03-13", "2025-03-13"]}, {"Once"}),
]


def test_event_time(shoppers: None) -> None:
    # Three: first 200 days ago (2024-08-27), last 1 day ago; Old: first 400 days ago
    # (2024-02-09), last 100 days ago; Once: 2 days ago (13 March); Never has none.
    check_all(
        [({"kind": "event_time", "name": "Order Completed", **cond}, expected) for cond, expected in EVENT_TIME_CASES]
    )


# --- purchases -----------------------------------------------------------------------------------


@pytest.fixture
def buyers(make_contact: Callable[..., Any]) -> None:
    from danhba.orders.services import order_cancel, order_record, order_refund

    big = make_contact(full_name="Big")
    small = make_contact(full_name="Small")
    usd = make_contact(full_name="Dollars")
    refunded = make_contact(full_name="Refunded")
    make_contact(full_name="No Orders")

    def order(contact: Any, order_id: str, days: int, total: str, currency: str = "VND", **line: str) -> None:
        order_record(
            actor=SYSTEM,
            contact_id=contact.pk,
            data={
                "order_id": order_id,
                "placed_at": (NOW - dt.timedelta(days=days)).isoformat(),
                "total": total,
                "currency": currency,
                "lines": [{"product_id": line.get("product", "tea-1"), "category": line.get("category", "Tea"),
                           "price": total, "quantity": 1}],
            },
        )  # fmt: skip

    order(big, "b1", 10, "2000000", product="phone-1", category="Phones")
    order(big, "b2", 100, "1000000")
    order(big, "b3", 400, "3000000", product="phone-2", category="Phones")
    order(small, "s1", 5, "50000")
    order(small, "s2", 6, "70000", product="cake-1", category="Cakes")
    order_cancel(actor=SYSTEM, order_id="s2")
    order(usd, "u1", 20, "100", currency="USD", product="phone-1", category="Phones")
    order(refunded, "r1", 50, "400000")
    order_refund(actor=SYSTEM, order_id="r1", amount="100000")
    order(refunded, "r2", 60, "100000", product="cake-1", category="Cakes")
    order_refund(actor=SYSTEM, order_id="r2")  # wholly refunded: no longer a purchase


ALL_BUYERS = {"Big", "Small", "Dollars", "Refunded", "No Orders"}


def _p(metric: str, operator: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    node = {"kind": "purchase", "metric": metric, "operator": operator, **extra}
    if value is not None:
        node["value"] = value
    return node


PURCHASES_CASES: list[tuple[dict[str, Any], set[str]]] = [
    # Lifetime: Big 6M over 3 orders, Small 50k (the cancelled order does not count), Dollars
    # 0 VND over 1 order, Refunded 300k over 1 order (the wholly refunded one does not count).
    (_p("total_spent", "gte", 300000), {"Big", "Refunded"}),
    (_p("total_spent", "eq", 6000000), {"Big"}),
    (_p("total_spent", "eq", 0), {"Dollars", "No Orders"}),
    (_p("total_spent", "ne", 0), {"Big", "Small", "Refunded"}),
    (_p("total_spent", "lt", 100000), {"Small", "Dollars", "No Orders"}),
    (_p("total_spent", "lte", "50000.00"), {"Small", "Dollars", "No Orders"}),
    (_p("total_spent", "between", [0, 50000]), {"Small", "Dollars", "No Orders"}),
    (_p("total_spent", "between", [50000.5, 300000]), {"Refunded"}),
    (_p("order_count", "gt", 0), {"Big", "Small", "Dollars", "Refunded"}),
    (_p("order_count", "eq", 1), {"Small", "Dollars", "Refunded"}),
    (_p("order_count", "lte", 1), {"Small", "Dollars", "Refunded", "No Orders"}),
    (_p("order_count", "gte", 1.5), {"Big"}),
    (_p("order_count", "lt", 0.5), {"No Orders"}),
    (_p("order_count", "eq", 1.5), set()),
    (_p("order_count", "between", [0.5, 2.5]), {"Small", "Dollars", "Refunded"}),
    (_p("average_order_value", "eq", 2000000), {"Big"}),
    (_p("average_order_value", "lt", 1), {"Dollars", "No Orders"}),
    # Over a period: from the orders themselves; a contact without orders in it has 0.
    (_p("total_spent", "gte", 1000000, period={"last_days": 30}), {"Big"}),
    (_p("total_spent", "eq", 0, period={"last_days": 30}), {"Dollars", "Refunded", "No Orders"}),
    (_p("total_spent", "eq", 300000, period={"last_days": 55}), {"Refunded"}),
    (_p("order_count", "eq", 0, period={"last_days": 30}), {"Refunded", "No Orders"}),
    (_p("order_count", "gte", 2, period={"last_days": 365}), {"Big"}),
    (_p("order_count", "lt", 1.5, period={"last_days": 365}), ALL_BUYERS - {"Big"}),
    (_p("order_count", "gte", 1, period={"from": "2025-03-10", "to": "2025-03-10"}), {"Small"}),
    # Dates.
    (_p("last_order_at", "within_last", days=7), {"Small"}),
    (_p("first_order_at", "over_days_ago", days=365), {"Big"}),
    (_p("first_order_at", "between", ["2025-01-01", "2025-03-15"]), {"Small", "Dollars", "Refunded"}),
    (_p("last_order_at", "before", "2025-02-01"), {"Refunded"}),
    (_p("last_order_at", "after", "2025-03-09"), {"Small"}),
    (_p("last_order_at", "empty"), {"No Orders"}),
    (_p("first_order_at", "not_empty"), ALL_BUYERS - {"No Orders"}),
]


def test_purchases(buyers: None) -> None:
    check_all(PURCHASES_CASES)


BOUGHT_CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"product": "phone-1"}, {"Big", "Dollars"}),
    ({"product": "phone-1", "negate": True}, {"Small", "Refunded", "No Orders"}),
    ({"category": "Phones", "period": {"last_days": 365}}, {"Big", "Dollars"}),
    ({"category": "Phones", "period": {"from": "2024-01-01", "to": "2024-12-31"}}, {"Big"}),
    ({"category": "phones"}, set()),
    # The cancelled cake order and the wholly refunded one are not purchases.
    ({"category": "Cakes"}, set()),
    ({"product": "tea-1", "category": "Tea"}, {"Big", "Small", "Refunded"}),
    ({"product": "phone-2", "category": "Tea"}, set()),
]


def test_bought(buyers: None) -> None:
    check_all([({"kind": "bought", **cond}, expected) for cond, expected in BOUGHT_CASES])


# --- segments, changes, groups -------------------------------------------------------------------


def test_segment_references(make_contact: Callable[..., Any]) -> None:
    a = make_contact(full_name="Hanoi Lead", province="Hà Nội", lifecycle_stage="lead")
    make_contact(full_name="Hanoi Customer", province="Hà Nội", lifecycle_stage="customer")
    c = make_contact(full_name="Listed")
    make_contact(full_name="Nobody")
    hanoi = Segment.objects.create(name="Hà Nội", conditions=one(fld("province", "eq", "ha-noi")))
    leads = Segment.objects.create(
        name="Hà Nội leads",
        conditions=clean(
            {
                "op": "all",
                "conditions": [
                    {"kind": "segment", "segment": hanoi.pk},
                    fld("lifecycle_stage", "eq", "lead"),
                ],
            }
        ),
    )
    static = Segment.objects.create(name="VIP list", kind=Segment.Kind.STATIC)
    SegmentMember.objects.create(segment=static, contact=c)
    SegmentMember.objects.create(segment=static, contact=a)
    # Stale membership rows of a dynamic segment are not what a reference reads: its conditions are.
    SegmentMember.objects.create(segment=hanoi, contact=c)
    check({"kind": "segment", "segment": hanoi.pk, "operator": "in"}, {"Hanoi Lead", "Hanoi Customer"})
    check({"kind": "segment", "segment": hanoi.pk, "operator": "not_in"}, {"Listed", "Nobody"})
    check({"kind": "segment", "segment": leads.pk, "operator": "in"}, {"Hanoi Lead"})
    check({"kind": "segment", "segment": static.pk, "operator": "in"}, {"Listed", "Hanoi Lead"})
    check({"kind": "segment", "segment": static.pk, "operator": "not_in"}, {"Hanoi Customer", "Nobody"})


def test_segment_cycle_in_stored_data_is_refused(make_contact: Callable[..., Any]) -> None:
    make_contact(full_name="Someone")
    a = Segment.objects.create(name="A")
    b = Segment.objects.create(name="B", conditions=one({"kind": "segment", "segment": a.pk, "operator": "in"}))
    # Written behind the checker's back: the compiler still refuses to loop forever.
    Segment.objects.filter(pk=a.pk).update(conditions=one({"kind": "segment", "segment": b.pk, "operator": "in"}))
    with pytest.raises(ValueError, match="cycle"):
        tree_q(one({"kind": "segment", "segment": a.pk, "operator": "in"}), now=NOW)


def test_changed_reads_the_audit_log_of_real_updates(
    make_contact: Callable[..., Any], admin: Any, custom_fields: Any
) -> None:
    from danhba.contacts.services.contacts import contact_update

    moved = make_contact(full_name="Moved", province="Hà Nội")
    renamed = make_contact(full_name="Renamed")
    emailed = make_contact(full_name="Emailed")
    make_contact(full_name="Untouched", province="Huế")
    actor = actor_for(admin)
    contact_update(actor=actor, contact=moved, data={"province": "Đà Nẵng", "custom": {"score": 3}})
    contact_update(actor=actor, contact=renamed, data={"occupation": "Chef"})
    contact_update(actor=actor, contact=emailed, data={"emails": [{"email": "new@example.vn"}]})
    now = timezone.now()
    # A new contact's values count as changed when it was created.
    check(fld("province", "changed", days=1), {"Moved", "Untouched"}, now)
    check(fld("occupation", "changed", days=1), {"Renamed"}, now)
    check(fld("email", "changed", days=1), {"Emailed"}, now)
    check(fld("custom.score", "changed", days=1), {"Moved"}, now)
    check(fld("full_name", "changed", days=1), {"Moved", "Renamed", "Emailed", "Untouched"}, now)
    # Ten days later, a 7-day window no longer sees these changes; a 30-day window does.
    later = now + dt.timedelta(days=10)
    check(fld("province", "changed", days=7), set(), later)
    check(fld("province", "changed", days=30), {"Moved", "Untouched"}, later)


def test_groups_nest_and_empty_groups(people: Any) -> None:
    lead = fld("lifecycle_stage", "eq", "lead")
    hanoi = fld("province", "eq", "ha-noi")
    empty_all = {"op": "all", "conditions": []}
    empty_any = {"op": "any", "conditions": []}
    assert names(empty_all) == {A, B, C_, D}
    assert names(empty_any) == set()
    assert names({"op": "none", "conditions": []}) == {A, B, C_, D}
    # An empty "all" (everyone) inside other groups.
    assert names({"op": "any", "conditions": [empty_all, hanoi]}) == {A, B, C_, D}
    assert names({"op": "none", "conditions": [empty_all]}) == set()
    assert names({"op": "none", "conditions": [empty_any]}) == {A, B, C_, D}
    assert names({"op": "all", "conditions": [lead, {"op": "none", "conditions": [hanoi]}]}) == {C_}
    assert names({"op": "any", "conditions": [hanoi, {"op": "all", "conditions": [lead, empty_all]}]}) == {A, C_}
    # NOT NOT: the contacts with an empty province are back where they were.
    twice = {"op": "none", "conditions": [{"op": "none", "conditions": [hanoi]}]}
    assert names(twice) == {A}
    deep: dict[str, Any] = hanoi
    for op in ("any", "all", "none", "none", "any", "all"):
        deep = {"op": op, "conditions": [deep]}
    assert names(deep) == {A}


def test_among_limits_to_given_contacts(people: Any) -> None:
    ids = dict(Contact.objects.values_list("full_name", "pk"))
    lead = one(fld("lifecycle_stage", "eq", "lead"))
    assert names(lead, among=[ids[A], ids[B]]) == {A}
    assert names(lead, among=[]) == set()


def test_compiler_does_not_read_rows_into_python(people: Any, django_assert_max_num_queries: Any) -> None:
    """Building the query reads only field definitions; evaluating it is one query."""
    tree = clean(
        {
            "op": "all",
            "conditions": [
                fld("lifecycle_stage", "eq", "lead"),
                {"kind": "tag", "operator": "none", "tags": ["vip"]},
                _ev(operator="gte", n=2, period={"last_days": 30}),
                _p("total_spent", "gt", 0),
                {"kind": "bought", "category": "Tea", "negate": True},
            ],
        }
    )
    qs = matching(tree, now=NOW)
    with django_assert_max_num_queries(1):
        assert set(qs.values_list("full_name", flat=True)) == set()


def test_an_any_group_beside_an_indexed_condition_is_only_checked(make_contact: Callable[..., Any]) -> None:
    """Decision 0025: the ANY group's lists do not drive SQLite's plan when a sibling compares a
    column that leads a contact index (province); the contacts matched are the same."""
    from django.db import connection

    from danhba.orders.services import order_record

    people = {
        "Lan": ("Hồ Chí Minh", ["VIP"], 6_000_000),
        "Hoa": ("Hồ Chí Minh", [], 6_000_000),
        "Mai": ("Hồ Chí Minh", [], 6_000_000),
        "Cúc": ("Hà Nội", ["VIP"], 6_000_000),
        "Đào": ("Hồ Chí Minh", ["VIP"], 100_000),
    }
    for name, (province, tags, spent) in people.items():
        contact = make_contact(full_name=name, province=province, tags=tags, occupation="Chef" * (name == "Hoa"))
        order_record(actor=SYSTEM, data={"order_id": name, "total": spent}, contact_id=contact.pk)
    group = {
        "op": "all",
        "conditions": [
            fld("province", "eq", "ho-chi-minh"),
            {
                "op": "any",
                "conditions": [{"kind": "tag", "operator": "any", "tags": ["VIP"]}, fld("occupation", "eq", "Chef")],
            },
            _p("total_spent", "gt", 5_000_000),
        ],
    }
    check(group, {"Lan", "Hoa"})
    sql = str(matching(clean(one(group)), now=NOW).query)
    assert ('+"contacts_contact"."id" IN' in sql) == (connection.vendor == "sqlite")
