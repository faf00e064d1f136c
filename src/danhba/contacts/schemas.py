"""Typed shapes of the REST API's requests and responses (they make the OpenAPI document).

Input schemas only check types and sizes and refuse unknown fields; the services normalise and
validate the values (a bad phone is the service's 422, not pydantic's). Every input field is
optional so the same schema serves create and partial update: the endpoints pass
``payload.model_dump(exclude_unset=True)``, so only the fields a client sent are written.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.utils import timezone
from ninja import Schema
from pydantic import AfterValidator, ConfigDict, Field

from danhba.contacts.models import CustomField, Gender, NameOrder, SocialProfile, Source, TimelineEntry
from danhba.core.keyset import MAX_PK

Id = Annotated[int, Field(ge=1, le=MAX_PK, description="A record id.")]
Text = Annotated[str, Field(max_length=255)]
LongText = Annotated[str, Field(max_length=20_000)]


def _sane_datetime(value: dt.datetime) -> dt.datetime:
    """Aware (a time without offset is in the server's time zone) and within years a contact
    history can hold, so it converts to UTC without overflowing."""
    if not 1900 <= value.year <= 2200:
        raise ValueError("must be between the years 1900 and 2200")
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


When = Annotated[dt.datetime, AfterValidator(_sane_datetime)]


class In(Schema):
    """Request bodies: unknown fields are a 422 rather than silently ignored."""

    model_config = ConfigDict(extra="forbid", use_enum_values=True)


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def omittable(description: str | None = None, examples: list[Any] | None = None) -> Any:
    """A field a client may leave out (absent: leave it as it is) but may not send as null."""
    return Field(None, description=description, examples=examples, json_schema_extra=_no_default)


# --- contacts --------------------------------------------------------------------------------


class EmailIn(In):
    email: Annotated[str, Field(max_length=320, examples=["lan.nguyen@example.vn"])]
    label: Annotated[str, Field(max_length=30, examples=["work"])] | None = None
    is_primary: bool = False


class PhoneIn(In):
    phone: Annotated[
        str, Field(max_length=40, description="As people type it: 0912 345 678, +84…, 0162…", examples=["0912 345 678"])
    ]
    label: Annotated[str, Field(max_length=30)] | None = None
    is_primary: bool = False


class CompanyLinkIn(In):
    company_id: Id | None = Field(None, description="An existing company; or give `name`.")
    name: Annotated[str, Field(max_length=200)] | None = Field(
        None, description="A company name: an existing company with this name, or a new one."
    )
    is_primary: bool = False
    job_title: Annotated[str, Field(max_length=120)] | None = None


class ExternalIdIn(In):
    system: Annotated[str, Field(max_length=60)]
    value: Annotated[str, Field(max_length=200)]


class SocialProfileIn(In):
    network: SocialProfile.Network
    handle: Annotated[str, Field(max_length=200)]


class ContactIn(In):
    """A contact to create, or the fields to change (PATCH changes only the fields sent; null
    clears a field that may be empty).

    Sensitive fields the caller's role may not see cannot be written either (403).
    """

    full_name: Annotated[str, Field(max_length=200)] = omittable(
        "Split into family/middle/given by `name_order` unless the parts are sent.", ["Nguyễn Thị Lan"]
    )
    family_name: Annotated[str, Field(max_length=80)] = omittable()
    middle_name: Annotated[str, Field(max_length=120)] = omittable()
    given_name: Annotated[str, Field(max_length=80)] = omittable()
    name_order: NameOrder = omittable()
    emails: Annotated[list[Annotated[str, Field(max_length=320)] | EmailIn], Field(max_length=20)] = omittable(
        "Replaces all emails. Strings or objects; the first is primary unless one says so.",
        [["lan.nguyen@example.vn"]],
    )
    phones: Annotated[list[Annotated[str, Field(max_length=40)] | PhoneIn], Field(max_length=20)] = omittable(
        "Replaces all phones, in any format; stored as E.164.", [["0912 345 678"]]
    )
    tags: Annotated[list[Annotated[str, Field(max_length=80)]], Field(max_length=200)] = omittable(
        "Tag names; replaces all tags, creating new tags as needed.", [["VIP"]]
    )
    companies: Annotated[list[CompanyLinkIn], Field(max_length=20)] = omittable("Replaces all company links.")
    external_ids: Annotated[list[ExternalIdIn], Field(max_length=50)] = omittable()
    social_profiles: Annotated[list[SocialProfileIn], Field(max_length=50)] = omittable()
    lifecycle_stage: Annotated[str, Field(max_length=60)] = omittable("A lifecycle stage key.", ["lead"])
    buyer_role: Annotated[str, Field(max_length=60)] | None = Field(
        None, description="A buyer role key, or null.", examples=["decision_maker"]
    )
    source: Source = omittable()
    owner: Id | None = Field(None, description="The owning user's id, or null for unassigned.")
    custom: Annotated[dict[Annotated[str, Field(max_length=60)], Any], Field(max_length=200)] = omittable(
        "Custom field values by key; an empty value or null removes the field."
    )
    street: Text | None = None
    ward: Annotated[str, Field(max_length=120)] | None = None
    province: Annotated[str, Field(max_length=60)] | None = Field(
        None, description="A province key or name.", examples=["ha-noi"]
    )
    address_raw: Annotated[str, Field(max_length=2000)] | None = None
    country: Annotated[str, Field(max_length=2)] | None = Field(
        None, description="ISO 3166 two-letter code.", examples=["VN"]
    )
    birthday: Annotated[str, Field(max_length=40)] | None = Field(
        None, description="yyyy-mm-dd or dd/mm/yyyy.", examples=["05/03/1987"]
    )
    gender: Gender | None = None
    occupation: Annotated[str, Field(max_length=120)] | None = None
    job_title: Annotated[str, Field(max_length=120)] | None = None
    education: Annotated[str, Field(max_length=120)] | None = None
    income_band: Annotated[str, Field(max_length=60)] | None = None
    family: LongText | None = None
    lifestyle: LongText | None = None
    hobbies: LongText | None = None
    preferences: LongText | None = None
    motivations: LongText | None = None
    likes: LongText | None = None
    dislikes: LongText | None = None


class EmailOut(Schema):
    email: str
    label: str
    is_primary: bool


class PhoneOut(Schema):
    phone: str = Field(description="E.164")
    raw: str
    kind: str
    label: str
    is_primary: bool


class CompanyLinkOut(Schema):
    company_id: int
    name: str
    is_primary: bool
    job_title: str


class ExternalIdOut(Schema):
    system: str
    value: str


class SocialProfileOut(Schema):
    network: str
    handle: str


class ContactOut(Schema):
    """A contact as the caller's role may see it: sensitive fields the role is not granted
    (birthday, gender, income_band, family, sensitive custom fields) are absent, not null."""

    id: int
    display_name: str = Field(description='What to show: `full_name`, or "Anonymous #id" for a contact without one.')
    full_name: str
    family_name: str
    middle_name: str
    given_name: str
    name_order: str
    email: str = Field(description="The primary email.")
    phone: str = Field(description="The primary phone, E.164.")
    street: str
    ward: str
    province: str
    address_raw: str
    country: str
    birthday: dt.date | None = None
    gender: str | None = None
    occupation: str
    job_title: str
    education: str
    income_band: str | None = None
    family: str | None = None
    lifestyle: str
    hobbies: str
    preferences: str
    motivations: str
    likes: str
    dislikes: str
    lifecycle_stage: str | None
    buyer_role: str | None
    source: str
    owner: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    last_activity_at: dt.datetime
    custom: dict[str, Any]
    # Only on single-contact responses, not in lists.
    emails: list[EmailOut] | None = None
    phones: list[PhoneOut] | None = None
    tags: list[str] | None = None
    companies: list[CompanyLinkOut] | None = None
    external_ids: list[ExternalIdOut] | None = None
    social_profiles: list[SocialProfileOut] | None = None


class ContactPage(Schema):
    items: list[ContactOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


# --- timeline --------------------------------------------------------------------------------


class TimelineIn(In):
    kind: TimelineEntry.Kind = omittable("Not `system`: change records are written by danhba.", ["call"])
    channel: TimelineEntry.Channel | None = None
    subject: Annotated[str, Field(max_length=200, examples=["Gọi tư vấn gói cước"])] | None = None
    body: Annotated[str, Field(max_length=100_000, examples=["Khách hẹn gọi lại thứ Hai."])] | None = None
    occurred_at: When | None = Field(None, description="Defaults to now; without an offset, server time zone.")
    is_private: bool | None = Field(None, description="Only roles granted private notes may write private entries.")


class TimelineOut(Schema):
    id: int
    contact_id: int
    kind: str
    channel: str
    subject: str
    body: str
    author_id: int | None
    author: str | None
    occurred_at: dt.datetime
    is_private: bool
    data: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime


class TimelineItemOut(Schema):
    """A row of the merged timeline: a timeline entry (note, call, change…) with its fields, or
    a row another app adds (an event, an order) with its ``record``."""

    source: str = Field(description="`entry` (notes, calls, changes…), `event` or `order`.")
    id: int = Field(description="The entry's, event's or order's id (unique per source).")
    contact_id: int
    kind: str = Field(description="The `kind` filter that selects this row.")
    occurred_at: dt.datetime
    title: str = Field(description="One line, as the contact page shows it.")
    detail: str
    channel: str | None = None
    subject: str | None = None
    body: str | None = None
    author_id: int | None = None
    author: str | None = None
    is_private: bool | None = None
    data: dict[str, Any] | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    record: dict[str, Any] | None = Field(
        None,
        description="Events: the event as `GET /api/events` lists it; orders: as `GET /api/orders/{order_id}`.",
    )


class TimelinePage(Schema):
    items: list[TimelineItemOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


# --- companies -------------------------------------------------------------------------------


class CompanyIn(In):
    name: Annotated[str, Field(max_length=200)] = omittable(examples=["Công ty Sao Mai"])
    domain: Annotated[str, Field(max_length=200, examples=["saomai.vn"])] | None = None
    website: Annotated[str, Field(max_length=200, examples=["https://saomai.vn"])] | None = None
    tax_code: Annotated[str, Field(max_length=20, examples=["0101234567"])] | None = None
    industry: Annotated[str, Field(max_length=120)] | None = None
    size: Annotated[str, Field(max_length=40)] | None = None
    email: Annotated[str, Field(max_length=254, examples=["lienhe@saomai.vn"])] | None = None
    phone: Annotated[str, Field(max_length=40, examples=["024 3825 1234"])] | None = None
    street: Text | None = None
    ward: Annotated[str, Field(max_length=120)] | None = None
    province: Annotated[str, Field(max_length=60, examples=["ha-noi"])] | None = None
    description: Annotated[str, Field(max_length=20_000)] | None = None
    owner: Id | None = None
    custom: Annotated[dict[Annotated[str, Field(max_length=60)], Any], Field(max_length=200)] | None = None


class CompanyOut(Schema):
    id: int
    name: str
    domain: str
    website: str
    tax_code: str
    industry: str
    size: str
    email: str
    phone: str
    street: str
    ward: str
    province: str
    description: str
    owner: int | None
    contact_count: int | None = Field(
        None, description="Contacts the caller may see; in the list only (null on a single company)."
    )
    custom: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime


class CompanyQuery(Schema):
    """The companies list's filters (the same as the page's and its exports')."""

    q: str = Field("", max_length=200, description="Start of the name (diacritics optional), domain or tax code.")
    industry: str = Field("", max_length=120, description="Industry, ignoring case.")
    province: str = Field("", max_length=60, description="A province or city: its key (`ha-noi`) or name.")
    has_contacts: bool | None = Field(None, description="Has (or has not) contacts the caller may see.")


class CompanyPage(Schema):
    items: list[CompanyOut]
    next_cursor: str | None


# --- tags ------------------------------------------------------------------------------------


class TagIn(In):
    name: Annotated[str, Field(min_length=1, max_length=80, examples=["VIP"])]
    color: Annotated[str, Field(max_length=7)] = omittable("Like #1d4ed8.", ["#1d4ed8"])


class TagPatch(In):
    name: Annotated[str, Field(min_length=1, max_length=80)] = omittable(examples=["VIP"])
    color: Annotated[str, Field(max_length=7)] = omittable("Like #1d4ed8.", ["#1d4ed8"])


class TagOut(Schema):
    id: int
    name: str
    color: str


class TagPage(Schema):
    items: list[TagOut]
    next_cursor: str | None


# --- custom field definitions ----------------------------------------------------------------

Choices = Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=500)]


class CustomFieldIn(In):
    entity: CustomField.Entity = omittable("Defaults to contact.")
    key: Annotated[str, Field(max_length=60)] = omittable("Defaults to a slug of the label.", ["shoe_size"])
    label: Annotated[str, Field(min_length=1, max_length=120, examples=["Shoe size"])]
    type: CustomField.Type
    choices: Choices = omittable("For choice and multi_choice fields.", [["38", "39", "40"]])
    required: bool = omittable()
    is_sensitive: bool = omittable("Hidden from roles not granted `custom.<key>`.")
    help_text: Annotated[str, Field(max_length=240)] = omittable()
    position: Annotated[int, Field(ge=0, le=32000)] = omittable()
    is_active: bool = omittable()


class CustomFieldPatch(In):
    """The type and key of a field never change; add a new field instead."""

    label: Annotated[str, Field(min_length=1, max_length=120)] = omittable()
    choices: Choices = omittable()
    required: bool = omittable()
    is_sensitive: bool = omittable()
    help_text: Annotated[str, Field(max_length=240)] = omittable()
    position: Annotated[int, Field(ge=0, le=32000)] = omittable()
    is_active: bool = omittable()


class CustomFieldOut(Schema):
    id: int
    entity: str
    key: str
    label: str
    type: str
    choices: list[Any]
    required: bool
    is_sensitive: bool
    help_text: str
    position: int
    is_active: bool


# --- exports ---------------------------------------------------------------------------------

FilterValue = Annotated[str, Field(max_length=200)] | int | bool | None


class ExportIn(In):
    format: Literal["csv", "xlsx", "json", "vcard"] = Field(
        description="csv (UTF-8 with BOM), xlsx, json (an array of objects) or vcard (vCard 4.0).", examples=["xlsx"]
    )
    filters: Annotated[dict[Annotated[str, Field(max_length=80)], FilterValue], Field(max_length=50)] = Field(
        default_factory=dict,
        description="The contact list's query parameters: q, lifecycle_stage, owner, tag, source, province, "
        "buyer_role, company, has_email, has_phone, created_after, created_before, orders_min, orders_max, "
        "spent_min, spent_max, last_order_after, last_order_before, favourite_category, custom.<key>. "
        "Empty: every contact the caller may see.",
        examples=[{"lifecycle_stage": "lead", "province": "ha-noi"}],
    )


class ExportJobOut(Schema):
    id: int
    format: str
    status: str = Field(description="queued, running, done, failed or cancelled.")
    filters: dict[str, str]
    rows_total: int = Field(description="An estimate while queued; the count once running.")
    rows_done: int
    created_at: dt.datetime
    finished_at: dt.datetime | None
    error: str = Field(description="Why the export failed, when it did.")
    download_url: str | None = Field(description="Where to GET the file once the export is done.")
