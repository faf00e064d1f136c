"""Reads of contacts that the list page, the API and exports share: filters, search, keyset
pages, and the field-level view of one contact for one user."""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, prefetch_related_objects
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from danhba.accounts import permissions as perms
from danhba.accounts.models import User
from danhba.contacts.extensions import (
    CONTACT_LIST_FILTERS,
    TIMELINE_SOURCES,
    TimelineKey,
    TimelineRow,
    TimelineSource,
)
from danhba.contacts.models import (
    BuyerRole,
    Company,
    Contact,
    ContactCompany,
    ContactEmail,
    ContactPhone,
    ContactTag,
    CustomField,
    ExternalId,
    LifecycleStage,
    SocialProfile,
    Tag,
    TimelineEntry,
)
from danhba.contacts.search import search_matches, search_prefix
from danhba.core.errors import InvalidInput, NotFound, PermissionDenied
from danhba.core.keyset import (
    MAX_PK,
    BadCursor,
    Page,
    after,
    cursor_pk,
    decode_cursor,
    encode_cursor,
    page_of,
    paginate,
    seek,
    seek_blanks_last,
    split_cursor,
)
from danhba.core.normalize import clean_text, fold
from danhba.core.vn import province_key

SORTS = {
    "name": ("name_key", False),
    "-name": ("name_key", True),
    "created": ("created_at", False),
    "-created": ("created_at", True),
    "updated": ("updated_at", False),
    "-updated": ("updated_at", True),
    "activity": ("last_activity_at", False),
    "-activity": ("last_activity_at", True),
}
MAX_LIMIT = 200


def is_id(text: str) -> bool:
    """A row id as typed in a URL: ASCII digits (``"²".isdigit()`` is true too) that fit the
    database's 64-bit key."""
    return text.isascii() and text.isdigit() and 0 < int(text) <= MAX_PK


def visible_contact_ids(user: User | None, values: Iterable[Any]) -> list[int]:
    """The contact ids in ``values`` (numbers or their text), each one an existing contact that
    ``user`` may see (``None``: the system, which sees all): refused whole, by field
    ``contact_ids``, when a value is not an id (422) or names a contact not there or not visible
    (404, the same answer for both). Lists, workflows and bulk actions take their ids here."""
    ids: set[int] = set()
    bad: list[str] = []
    for value in values:
        try:
            number = 0 if isinstance(value, bool) else int(value)
        except (TypeError, ValueError):
            number = 0
        if 1 <= number <= MAX_PK:
            ids.add(number)
        else:
            bad.append(str(value)[:40])
    if bad:
        raise InvalidInput({"contact_ids": [gettext("Not contact ids: %s") % ", ".join(bad[:10])]})
    qs = Contact.objects.filter(pk__in=sorted(ids))
    if user is not None:
        qs = qs.visible_to(user)
    found = set(qs.values_list("pk", flat=True))
    missing = ids - found
    if missing:
        raise NotFound(gettext("No such contacts: %s") % ", ".join(str(m) for m in sorted(missing)[:10]))
    return sorted(found)


def param_date(params: Any, name: str, errors: dict[str, list[str]]) -> dt.date | None:
    """A YYYY-MM-DD query parameter, or None when absent; a bad one is added to ``errors``."""
    raw = clean_text(params.get(name))
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors[name] = [gettext("a date like 2025-07-01")]
        return None


@dataclass
class ContactFilters:
    q: str = ""
    lifecycle_stage: str = ""
    owner: str = ""  # a user id, "me" or "none"
    tag: str = ""
    source: str = ""
    province: str = ""
    buyer_role: str = ""
    company: int | None = None
    has_email: bool | None = None
    has_phone: bool | None = None
    created_after: dt.date | None = None
    created_before: dt.date | None = None
    custom: dict[str, str] = field(default_factory=dict)
    # The values of the filters other apps own (extensions.CONTACT_LIST_FILTERS), by their key:
    # members of a segment, purchase metrics…
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_params(cls, params: Any) -> ContactFilters:
        """Build filters from a QueryDict or dict of strings (list page and API share this)."""
        errors: dict[str, list[str]] = {}

        def date(name: str) -> dt.date | None:
            return param_date(params, name, errors)

        def boolean(name: str) -> bool | None:
            return param_bool(params, name, errors)

        company_raw = clean_text(params.get("company"))
        company = None
        if company_raw:
            if is_id(company_raw):
                company = int(company_raw)
            else:
                errors["company"] = [gettext("a company id")]
        owner = clean_text(params.get("owner"))
        if owner and owner not in ("me", "none") and not is_id(owner):
            errors["owner"] = [gettext("a user id, 'me' or 'none'")]
        custom = {k[7:]: clean_text(v) for k, v in params.items() if k.startswith("custom.") and clean_text(v)}
        extra = {}
        for key, list_filter in CONTACT_LIST_FILTERS.items():
            value = list_filter.parse(params, errors)
            if value is not None:
                extra[key] = value
        filters = cls(
            q=clean_text(params.get("q"))[:200],
            lifecycle_stage=clean_text(params.get("lifecycle_stage")),
            owner=owner,
            tag=clean_text(params.get("tag")),
            source=clean_text(params.get("source")),
            province=clean_text(params.get("province")),
            buyer_role=clean_text(params.get("buyer_role")),
            company=company,
            has_email=boolean("has_email"),
            has_phone=boolean("has_phone"),
            created_after=date("created_after"),
            created_before=date("created_before"),
            custom=custom,
            extra=extra,
        )
        if errors:
            raise InvalidInput(errors, gettext("Some filters are not valid."))
        return filters

    @property
    def active(self) -> bool:
        return any(
            (
                self.lifecycle_stage,
                self.owner,
                self.tag,
                self.source,
                self.province,
                self.buyer_role,
                self.company,
                self.has_email is not None,
                self.has_phone is not None,
                self.created_after,
                self.created_before,
                self.custom,
                self.extra,
            )
        )


def visibility_q(user: User, prefix: str = "") -> Q | None:
    """The record-visibility condition of a user's role, or None when they see everything."""
    if not user.can("contact", perms.VIEW):
        return Q(pk__in=[])
    scope = user.role.record_scope
    if scope == perms.SCOPE_ALL:
        return None
    if scope == perms.SCOPE_TEAM and user.team_id:
        return Q(**{f"{prefix}owner__isnull": True}) | Q(**{f"{prefix}owner__team_id": user.team_id})
    return Q(**{f"{prefix}owner__isnull": True}) | Q(**{f"{prefix}owner_id": user.pk})


# Filters that are one equality on a Contact path, and filters of "has a value or not".
_EQUAL_FILTERS = (
    ("lifecycle_stage", "lifecycle_stage__key"),
    ("source", "source"),
    ("province", "province"),
    ("buyer_role", "buyer_role__key"),
    ("created_after", "created_at__date__gte"),
    ("created_before", "created_at__date__lte"),
)
_PRESENCE_FILTERS = (("has_email", "email"), ("has_phone", "phone"))


def _owner_q(owner: str, user: User, p: str) -> Q:
    if owner == "me":
        return Q(**{f"{p}owner_id": user.pk})
    if owner == "none":
        return Q(**{f"{p}owner__isnull": True})
    return Q(**{f"{p}owner_id": int(owner)})


def _links_q(filters: ContactFilters, p: str) -> Q:
    q = Q()
    if filters.tag:
        tag_q = Q(tag_id=int(filters.tag)) if is_id(filters.tag) else Q(tag__name_key=fold(filters.tag))
        q &= member_q(ContactTag.objects.filter(tag_q), p)
    if filters.company:
        q &= member_q(ContactCompany.objects.filter(company_id=filters.company), p)
    return q


def _custom_filters_q(custom: dict[str, str], user: User, p: str) -> Q:
    """Conditions on custom fields; a field that does not exist, or that the role may not see, is
    an error (the same for both, so a filter reveals nothing)."""
    fields = {f.key: f for f in CustomField.objects.filter(entity="contact", is_active=True, key__in=list(custom))}
    q = Q()
    for key, value in custom.items():
        cf = fields.get(key)
        if cf is None or (cf.is_sensitive and not user.sees_field(cf.permission_key)):
            raise InvalidInput(
                {f"custom.{key}": [gettext("no such custom field")]}, gettext("Some filters are not valid.")
            )
        q &= _custom_q(cf, value, p)
    return q


def filters_q(filters: ContactFilters, user: User, prefix: str = "", visibility: bool = True) -> Q:
    """The conditions of ``filters`` on Contact, with field paths under ``prefix`` so the same
    conditions apply from the search-key table (``prefix="contact__"``). ``visibility=False``
    leaves out the role's record visibility (for callers that apply it branch by branch)."""
    p = prefix
    q = Q()
    for name, path in _EQUAL_FILTERS:
        if value := getattr(filters, name):
            q &= Q(**{f"{p}{path}": value})
    for name, path in _PRESENCE_FILTERS:
        if (present := getattr(filters, name)) is not None:
            q &= ~Q(**{f"{p}{path}": ""}) if present else Q(**{f"{p}{path}": ""})
    if filters.owner:
        q &= _owner_q(filters.owner, user, p)
    q &= _links_q(filters, p)
    for key, value in filters.extra.items():
        list_filter = CONTACT_LIST_FILTERS.get(key)
        if list_filter is not None:
            q &= list_filter.condition(value, user, p)
    if filters.custom:
        q &= _custom_filters_q(filters.custom, user, p)
    vis = visibility_q(user, prefix) if visibility else None
    if vis is not None:
        q &= vis
    return q


# A team larger than this is listed with one OR query instead of one index walk per member.
MAX_BRANCHES = 25


def visibility_branches(user: User) -> list[Q] | None:
    """Record visibility as a few owner conditions, each served in sort order by an
    (owner, sort column, id) index, or None when one query is as good (scope "all", or a team too
    big to walk member by member). An OR of them would make the database sort every visible row."""
    scope = user.role.record_scope
    if scope == perms.SCOPE_ALL or not user.can("contact", perms.VIEW):
        return None
    if scope == perms.SCOPE_TEAM and user.team_id:
        members = list(User.objects.filter(team_id=user.team_id).values_list("pk", flat=True)[: MAX_BRANCHES + 1])
        if len(members) > MAX_BRANCHES:
            return None
        return [Q(owner__isnull=True), *(Q(owner_id=pk) for pk in members)]
    return [Q(owner__isnull=True), Q(owner_id=user.pk)]


# A link table (tags, companies) with at most this many contacts for the wanted value is
# resolved to an id list first; larger ones are checked row by row while walking the sort
# index. Either way a page costs a bounded amount of work: a rare tag no longer means probing
# every contact, a common one never means sorting all its members.
SMALL_MEMBERSHIP = 2000


def member_q(links: QuerySet[Any], prefix: str) -> Q:
    """Contacts linked through ``links`` (rows with a ``contact_id``): an id list when they are
    few, else a correlated EXISTS checked row by row."""
    ids = list(links.values_list("contact_id", flat=True)[: SMALL_MEMBERSHIP + 1])
    if len(ids) <= SMALL_MEMBERSHIP:
        return Q(**{f"{prefix}pk__in": ids})
    return Q(Exists(links.filter(contact_id=OuterRef(f"{prefix}pk"))))


def _custom_q(cf: CustomField, value: str, prefix: str) -> Q:
    path = f"{prefix}custom__{cf.key}"
    if cf.type == CustomField.Type.BOOLEAN:
        return Q(**{path: value.lower() in ("1", "true", "yes")})
    if cf.type == CustomField.Type.NUMBER and value.lstrip("-").isascii() and value.lstrip("-").isdigit():
        return Q(**{path: int(value)})
    if cf.type == CustomField.Type.MULTI_CHOICE:
        return Q(**{f"{path}__icontains": value})
    if cf.type in (CustomField.Type.TEXT, CustomField.Type.LONG_TEXT):
        return Q(**{f"{path}__icontains": value})
    return Q(**{path: value})


def contact_queryset(user: User, filters: ContactFilters) -> QuerySet[Contact]:
    return Contact.objects.filter(filters_q(filters, user))


CONTACT_RELATED = ("lifecycle_stage", "owner", "buyer_role")


def contact_page(
    user: User, filters: ContactFilters, sort: str = "name", cursor: str | None = None, limit: int = 50
) -> Page[Contact]:
    """One page of the contacts a user may see. Searches walk the search-key index in key order;
    plain lists walk the sort column's (value, id) index. Neither reads past the page."""
    limit = max(1, min(limit, MAX_LIMIT))
    if filters.q:
        return _search_page(user, filters, cursor, limit)
    if sort not in SORTS:
        raise InvalidInput({"sort": [gettext("must be one of %(choices)s") % {"choices": ", ".join(SORTS)}]})
    column, descending = SORTS[sort]
    # In name order, contacts without a name (known by an identifier only) come last.
    blanks_last = column == "name_key" and not descending

    def seek_in(qs: QuerySet[Contact]) -> tuple[list[Contact], bool, bool]:
        if blanks_last:
            return seek_blanks_last(qs, column, cursor, limit)
        return seek(qs, column, cursor, limit, descending)

    branches = visibility_branches(user)
    if branches is None:
        qs = contact_queryset(user, filters).select_related(*CONTACT_RELATED)
        rows, backwards, had_cursor = seek_in(qs)
    else:
        # Merge each owner branch's rows next to the cursor: together they hold the page overall.
        base = Contact.objects.filter(filters_q(filters, user, visibility=False)).select_related(*CONTACT_RELATED)
        backwards = had_cursor = False
        rows = []
        for branch in branches:
            branch_rows, backwards, had_cursor = seek_in(base.filter(branch))
            rows += branch_rows
        rows.sort(key=lambda c: (blanks_last and not getattr(c, column), getattr(c, column), c.pk), reverse=descending)
    page = page_of(rows, limit, backwards, had_cursor, lambda c: [getattr(c, column), c.pk])
    return page if page is not None else contact_page(user, filters, sort, None, limit)


def _search_page(user: User, filters: ContactFilters, cursor: str | None, limit: int) -> Page[Contact]:
    """A page of search results in contact id order: the search index's matches walked from the
    cursor, forwards or (for the previous page) backwards (``contacts/search.py``)."""
    query = search_prefix(filters.q)
    if query is None:
        return Page([])
    matches = search_matches(query, filters_q(filters, user, prefix="contact__"))
    raw, backwards = split_cursor(cursor)
    if raw:
        (cid,) = decode_cursor(raw, 1)
        bound = {"contact_id__lt" if backwards else "contact_id__gt": cursor_pk(cid)}
        matches = matches.filter(**bound)
    order = "-contact_id" if backwards else "contact_id"
    ids = list(matches.order_by(order).values_list("contact_id", flat=True)[: limit + 1])
    keyed = page_of(ids[::-1] if backwards else ids, limit, backwards, bool(raw), lambda cid: [cid])
    if keyed is None:
        return _search_page(user, filters, None, limit)
    by_id = Contact.objects.select_related(*CONTACT_RELATED).in_bulk(keyed.items)
    return Page([by_id[i] for i in keyed.items if i in by_id], keyed.next_cursor, prev_cursor=keyed.prev_cursor)


def contact_count(user: User, filters: ContactFilters, cap: int = 10_000) -> tuple[int, bool]:
    """How many contacts match, counted up to ``cap`` (returns (n, capped)) so a count never
    costs a scan of a million rows on a page load."""
    if filters.q:
        query = search_prefix(filters.q)
        if query is None:
            return 0, False
        matches = search_matches(query, filters_q(filters, user, prefix="contact__"))
        n = matches.order_by().values("contact_id")[: cap + 1].count()
    else:
        n = contact_queryset(user, filters).order_by().values("pk")[: cap + 1].count()
    return min(n, cap), n > cap


# --- field-level view -----------------------------------------------------------------------


def hidden_custom_fields(user: User) -> set[str]:
    """Keys of the sensitive custom fields this user may not see (retired ones included)."""
    fields = CustomField.objects.filter(is_sensitive=True)
    return {cf.permission_key for cf in fields if not user.sees_field(cf.permission_key)}


def sensitive_custom_field_choices(role: Any = None) -> list[tuple[str, str]]:
    """Every custom field marked sensitive, as a role's form offers it (retired ones named so)."""
    choices = []
    for cf in CustomField.objects.filter(is_sensitive=True).order_by("entity", "position", "label"):
        where = gettext("company") if cf.entity == CustomField.Entity.COMPANY else gettext("contact")
        label = f"{cf.label} ({where})" if cf.is_active else f"{cf.label} ({where}, {gettext('retired')})"
        choices.append((cf.permission_key, label))
    return choices


def hidden_fields(user: User) -> set[str]:
    """Keys of the sensitive fields this user may not see (standard and custom, retired custom
    fields included: retiring a field must not publish its values)."""
    hidden = {k for k in perms.SENSITIVE_STANDARD_FIELDS if not user.sees_field(k)}
    for cf in CustomField.objects.filter(is_sensitive=True):
        if not user.sees_field(cf.permission_key):
            hidden.add(cf.permission_key)
    return hidden


def active_custom_keys(entity: str) -> set[str]:
    return set(CustomField.objects.filter(entity=entity, is_active=True).values_list("key", flat=True))


def visible_custom_values(
    values: dict[str, Any] | None, entity: str, hidden: set[str], active: set[str] | None = None
) -> dict[str, Any]:
    """The values of active custom fields the reader may see (an allow-list: values of retired
    or unknown fields stay in storage but are not shown)."""
    prefix = "custom." if entity == "contact" else "company_custom."
    active = active_custom_keys(entity) if active is None else active
    return {k: v for k, v in (values or {}).items() if k in active and f"{prefix}{k}" not in hidden}


def visible_custom_fields(user: User, entity: str = "contact") -> list[CustomField]:
    return [
        cf
        for cf in CustomField.objects.filter(entity=entity, is_active=True)
        if not cf.is_sensitive or user.sees_field(cf.permission_key)
    ]


def contact_data(
    contact: Contact, user: User, hidden: set[str] | None = None, full: bool = True, active: set[str] | None = None
) -> dict[str, Any]:
    """A contact as a plain dict for the API and exports, without the fields the user may not see.
    Callers rendering many contacts pass ``hidden`` and ``active`` (custom keys) computed once."""
    hidden = hidden_fields(user) if hidden is None else hidden
    data: dict[str, Any] = {
        "id": contact.pk,
        "display_name": contact.display_name,
        "full_name": contact.full_name,
        "family_name": contact.family_name,
        "middle_name": contact.middle_name,
        "given_name": contact.given_name,
        "name_order": contact.name_order,
        "email": contact.email,
        "phone": contact.phone,
        "street": contact.street,
        "ward": contact.ward,
        "province": contact.province,
        "address_raw": contact.address_raw,
        "country": contact.country,
        "birthday": contact.birthday,
        "gender": contact.gender,
        "occupation": contact.occupation,
        "job_title": contact.job_title,
        "education": contact.education,
        "income_band": contact.income_band,
        "family": contact.family,
        "lifestyle": contact.lifestyle,
        "hobbies": contact.hobbies,
        "preferences": contact.preferences,
        "motivations": contact.motivations,
        "likes": contact.likes,
        "dislikes": contact.dislikes,
        "lifecycle_stage": contact.lifecycle_stage.key if contact.lifecycle_stage_id else None,
        "buyer_role": contact.buyer_role.key if contact.buyer_role else None,
        "source": contact.source,
        "owner": contact.owner_id,
        "created_at": contact.created_at,
        "updated_at": contact.updated_at,
        "last_activity_at": contact.last_activity_at,
        "custom": visible_custom_values(contact.custom, "contact", hidden, active),
    }
    for key in perms.SENSITIVE_STANDARD_FIELDS:
        if key in hidden:
            data.pop(key, None)
    if full:
        data["emails"] = [
            {"email": e.email, "label": e.label, "is_primary": e.is_primary} for e in contact.emails.all()
        ]
        data["phones"] = [
            {"phone": p.e164, "raw": p.raw, "kind": p.kind, "label": p.label, "is_primary": p.is_primary}
            for p in contact.phones.all()
        ]
        data["tags"] = sorted(t.name for t in contact.tags.all())
        data["companies"] = [
            {
                "company_id": link.company_id,
                "name": link.company.name,
                "is_primary": link.is_primary,
                "job_title": link.job_title,
            }
            for link in contact.company_links.select_related("company")
        ]
        data["external_ids"] = [{"system": x.system, "value": x.value} for x in contact.external_ids.all()]
        data["social_profiles"] = [{"network": s.network, "handle": s.handle} for s in contact.social_profiles.all()]
    return data


def timeline_for(
    contact: Contact, user: User, kind: str = "", limit: int = 100, where: Q | None = None
) -> list[TimelineEntry]:
    """``where``: an extra condition (the keyset of the merged timeline's next page)."""
    qs = TimelineEntry.objects.filter(contact=contact).select_related("author")
    if where is not None:
        qs = qs.filter(where)
    if kind:
        qs = qs.filter(kind=kind)
    if not user.sees_field("private_notes"):
        qs = qs.filter(Q(is_private=False) | Q(author_id=user.pk))
    return list(qs[:limit])


def param_bool(params: Any, name: str, errors: dict[str, list[str]]) -> bool | None:
    """A yes/no query parameter (``true``/``1``/``yes``), or None when absent or "any"."""
    raw = clean_text(params.get(name)).lower()
    if raw in ("", "any"):
        return None
    if raw in ("1", "true", "yes"):
        return True
    if raw in ("0", "false", "no"):
        return False
    errors[name] = [gettext("true or false")]
    return None


@dataclass(frozen=True)
class CompanyFilters:
    """The companies list's filters; the page, the API and exports parse them here."""

    q: str = ""
    industry: str = ""
    province: str = ""  # a province key
    has_contacts: bool | None = None  # has contacts the viewer may see

    KEYS = ("q", "industry", "province", "has_contacts")

    @classmethod
    def from_params(cls, params: Any) -> CompanyFilters:
        errors: dict[str, list[str]] = {}
        province_raw = clean_text(params.get("province"))
        province = ""
        if province_raw:
            province = province_key(province_raw) or ""
            if not province:
                errors["province"] = [gettext("not a province or city of Việt Nam")]
        filters = cls(
            q=clean_text(params.get("q"))[:200],
            industry=clean_text(params.get("industry"))[:120],
            province=province,
            has_contacts=param_bool(params, "has_contacts", errors),
        )
        if errors:
            raise InvalidInput(errors, gettext("Some filters are not valid."))
        return filters

    def as_params(self) -> dict[str, str]:
        """The filters set, as query parameters (the audit row of an export keeps these)."""
        values = {"q": self.q, "industry": self.industry, "province": self.province}
        if self.has_contacts is not None:
            values["has_contacts"] = "true" if self.has_contacts else "false"
        return {k: v for k, v in values.items() if v}


def _linked_contacts(user: User) -> QuerySet[ContactCompany]:
    """Links from companies to the contacts the user may see."""
    links = ContactCompany.objects.all()
    vis = visibility_q(user, "contact__")
    return links if vis is None else links.filter(vis)


def companies_filtered(user: User, filters: CompanyFilters) -> QuerySet[Company]:
    qs = Company.objects.all()
    if filters.q:
        prefix = fold(filters.q)
        qs = qs.filter(
            Q(name_key__gte=prefix, name_key__lt=prefix + "\U0010ffff")
            | Q(domain__startswith=filters.q.lower())
            | Q(tax_code=filters.q)
        )
    if filters.industry:
        qs = qs.filter(industry__iexact=filters.industry)
    if filters.province:
        qs = qs.filter(province=filters.province)
    if filters.has_contacts is not None:
        # One probe of the (company, contact) index per company walked.
        linked = Exists(_linked_contacts(user).filter(company_id=OuterRef("pk")))
        qs = qs.filter(linked if filters.has_contacts else ~linked)
    return qs


def company_page(
    user: User, q: str = "", cursor: str | None = None, limit: int = 50, filters: CompanyFilters | None = None
) -> Page[Company]:
    """A keyset page of companies by name, each with ``contact_count``: how many of its contacts
    the user may see."""
    qs = companies_filtered(user, filters or CompanyFilters(q=q))
    page = paginate(qs.select_related("owner"), "name_key", cursor, max(1, min(limit, MAX_LIMIT)))
    counts = company_contact_counts(user, [c.pk for c in page.items])
    for company in page.items:
        company.contact_count = counts.get(company.pk, 0)
    return page


def company_contact_counts(user: User, company_ids: list[int]) -> dict[int, int]:
    """Contacts per company that the user may see: one grouped query over the (company, contact)
    index for a page of companies."""
    if not company_ids:
        return {}
    rows = (
        _linked_contacts(user)
        .filter(company_id__in=company_ids)
        .values("company_id")
        .annotate(n=Count("contact_id"))
        .values_list("company_id", "n")
    )
    return dict(rows)


def industry_choices(limit: int = 200) -> list[str]:
    """The industries companies have, for the filter's suggestions; cached, as it reads the
    whole companies table."""
    key = "contacts:industries"
    found = cache.get(key)
    if found is None:
        names = Company.objects.exclude(industry="").values_list("industry", flat=True).distinct()
        found = sorted(set(names.order_by("industry")[: limit * 2]), key=fold)[:limit]
        cache.set(key, found, 600)
    return list(found)


# --- reads for the web pages ----------------------------------------------------------------


@dataclass
class ContactView:
    """One contact as a user may see it on its page: related rows loaded once, sensitive fields
    named in ``hidden`` (templates test ``"birthday" in view.hidden``)."""

    contact: Contact
    hidden: set[str]
    emails: list[ContactEmail]
    phones: list[ContactPhone]
    tags: list[Tag]
    company_links: list[ContactCompany]
    external_ids: list[ExternalId]
    social_profiles: list[SocialProfile]
    custom: list[tuple[CustomField, Any]]


def contact_view(contact: Contact, user: User) -> ContactView:
    hidden = hidden_fields(user)
    values = contact.custom or {}
    return ContactView(
        contact=contact,
        hidden=hidden,
        emails=list(contact.emails.all()),
        phones=list(contact.phones.all()),
        tags=list(contact.tags.all()),
        company_links=list(contact.company_links.select_related("company")),
        external_ids=list(contact.external_ids.all()),
        social_profiles=list(contact.social_profiles.all()),
        custom=[(cf, values.get(cf.key)) for cf in visible_custom_fields(user)],
    )


def list_rows(contacts: list[Contact]) -> list[Contact]:
    """Load the tags and companies a list page shows, in two queries for the whole page."""
    prefetch_related_objects(
        contacts, "tags", Prefetch("company_links", queryset=ContactCompany.objects.select_related("company"))
    )
    return contacts


def user_choices() -> list[tuple[str, str]]:
    """Active users as (id, label) for owner and actor pickers."""
    return [(str(u.pk), str(u)) for u in User.objects.filter(is_active=True).order_by("full_name", "email")]


def stage_choices() -> list[tuple[str, str]]:
    return [(s.key, s.label) for s in LifecycleStage.objects.filter(is_active=True)]


def buyer_role_choices() -> list[tuple[str, str]]:
    return [(r.key, r.label) for r in BuyerRole.objects.filter(is_active=True)]


def tag_choices(limit: int = 500) -> list[Tag]:
    return list(Tag.objects.all()[:limit])


def field_labels() -> dict[str, str]:
    """Human labels of contact field keys as the audit log and timeline name them."""
    labels: dict[str, str] = {}
    for f in Contact._meta.get_fields():
        verbose = getattr(f, "verbose_name", None)
        if verbose:
            labels[f.name] = str(verbose)
    labels.update(
        emails=str(_("emails")),
        phones=str(_("phones")),
        tags=str(_("tags")),
        companies=str(_("companies")),
        external_ids=str(_("external ids")),
        social_profiles=str(_("social profiles")),
    )
    for cf in CustomField.objects.filter(is_active=True):
        labels[cf.permission_key] = cf.label
    return labels


def timeline_entry_get(contact: Contact, user: User, entry_id: int) -> TimelineEntry:
    """An entry of this contact's timeline the user may see, or :class:`NotFound`."""
    qs = TimelineEntry.objects.filter(contact=contact, pk=entry_id).select_related("author")
    if not user.sees_field("private_notes"):
        qs = qs.filter(Q(is_private=False) | Q(author_id=user.pk))
    entry = qs.first()
    if entry is None:
        raise NotFound(gettext("No such timeline entry."))
    return entry


def timeline_entry_editable(user: User, entry: TimelineEntry) -> bool:
    """People edit their own entries; admins anyone's. Change records are never edited."""
    return (
        entry.kind != TimelineEntry.Kind.SYSTEM
        and user.can("timeline", perms.EDIT)
        and (entry.author_id == user.pk or user.is_admin)
    )


def timeline_entry_deletable(user: User, entry: TimelineEntry) -> bool:
    return (
        entry.kind != TimelineEntry.Kind.SYSTEM
        and user.can("timeline", perms.DELETE)
        and (entry.author_id == user.pk or user.is_admin)
    )


def company_get(pk: int) -> Company:
    company = Company.objects.select_related("owner").filter(pk=pk).first()
    if company is None:
        raise NotFound(gettext("No such company."))
    return company


def company_contacts(company: Company, user: User, limit: int = 100) -> list[Contact]:
    """The contacts linked to a company that the user may see, first ``limit`` by name."""
    ids = ContactCompany.objects.filter(company=company).values("contact_id")
    return list(Contact.objects.visible_to(user).filter(pk__in=ids).select_related("lifecycle_stage", "owner")[:limit])


@dataclass
class TimelineItem:
    entry: TimelineEntry
    editable: bool
    deletable: bool


def timeline_items(contact: Contact, user: User, kind: str = "", limit: int = 100) -> list[TimelineItem]:
    """The timeline as the user may see it, each entry marked with what the user may do to it."""
    return [
        TimelineItem(e, timeline_entry_editable(user, e), timeline_entry_deletable(user, e))
        for e in timeline_for(contact, user, kind=kind, limit=limit)
    ]


# --- the merged timeline (entries, and the rows other apps add: extensions.TIMELINE_SOURCES) ----

TIMELINE_PAGE_SIZE = 50
ENTRY_RANK = 0  # timeline entries come first among rows of the same instant


def _timeline_sources(user: User) -> list[TimelineSource]:
    return sorted((s for s in TIMELINE_SOURCES if user.can(*s.permission)), key=lambda s: s.rank)


def timeline_kinds(user: User) -> list[tuple[str, str]]:
    """The choices of the timeline's "show only" filter for this user."""
    kinds: list[tuple[str, str]] = [(str(v), str(label)) for v, label in TimelineEntry.Kind.choices]
    for source in _timeline_sources(user):
        kinds += [(str(value), str(label)) for value, label in source.kinds]
    return kinds


def timeline_kind(user: User, kind: str) -> str:
    """``kind`` if it is a choice of :func:`timeline_kinds` for this user, else "" (everything)."""
    return kind if kind in {k for k, _label in timeline_kinds(user)} else ""


def timeline_footers(user: User) -> list[str]:
    """Templates the timeline's sources show under the list (links to more), for this user."""
    return [s.footer for s in _timeline_sources(user) if s.footer]


def _before(cursor: TimelineKey | None, rank: int) -> Callable[[str], Q]:
    """The condition on one source's time column that keeps the rows after the cursor in
    (time, rank, id) order, newest first."""

    def condition(column: str) -> Q:
        if cursor is None:
            return Q()
        at, c_rank, pk = cursor
        if rank < c_rank:
            return Q(**{f"{column}__lte": at})
        if rank > c_rank:
            return Q(**{f"{column}__lt": at})
        return after(column, at, "id", pk, descending=True)

    return condition


def _timeline_cursor(cursor: str, ranks: set[int]) -> TimelineKey | None:
    if not cursor:
        return None
    at, rank, pk = decode_cursor(cursor, 3)
    if not isinstance(at, dt.datetime) or rank not in ranks:
        raise BadCursor(gettext("The cursor is not valid; start again from the first page."))
    return at, rank, cursor_pk(pk)


def contact_timeline(
    contact: Contact, user: User, *, kind: str = "", cursor: str = "", limit: int = TIMELINE_PAGE_SIZE
) -> Page[Any]:
    """One page of the contact's timeline as ``user`` may see it: timeline entries (private
    notes as :func:`timeline_for` decides) and the rows of the registered sources the user may
    see (events, orders), newest first. Each source reads at most a page plus one row through
    its (contact, time) index; the pages are merged here. Items are :class:`TimelineItem` or the
    sources' items; ``next_cursor`` continues after the last one. The caller has checked the
    contact is in the user's records."""
    page = _timeline_page(contact, user, kind=timeline_kind(user, kind), cursor=cursor, limit=limit)
    return Page([item for _source, item, _pk in page.items], page.next_cursor)


def _timeline_page(contact: Contact, user: User, *, kind: str, cursor: str, limit: int) -> Page[Any]:
    """The merged page of :func:`contact_timeline`: (source (None: an entry), item, id) triples."""
    sources = _timeline_sources(user)
    position = _timeline_cursor(cursor, {ENTRY_RANK} | {s.rank for s in TIMELINE_SOURCES})
    source_kinds = {value for s in sources for value, _label in s.kinds}
    pages: list[list[tuple[TimelineKey, Any]]] = []
    if kind not in source_kinds:
        where = _before(position, ENTRY_RANK)("occurred_at")
        entries = timeline_for(contact, user, kind=kind, limit=limit + 1, where=where)
        pages.append(
            [
                (
                    (e.occurred_at, ENTRY_RANK, e.pk),
                    (None, TimelineItem(e, timeline_entry_editable(user, e), timeline_entry_deletable(user, e)), e.pk),
                )
                for e in entries
            ]
        )
    for source in sources:
        if kind == "" or kind in {value for value, _label in source.kinds}:
            rows = source.rows(contact, user, kind, _before(position, source.rank), limit + 1)
            pages.append([(key, (source, item, key[2])) for key, item in rows])
    merged = list(heapq.merge(*pages, key=lambda pair: pair[0], reverse=True))
    next_cursor = None
    if len(merged) > limit:
        merged = merged[:limit]
        at, rank, pk = merged[-1][0]
        next_cursor = encode_cursor([at, rank, pk])
    return Page([item for _key, item in merged], next_cursor)


def timeline_all_kinds() -> set[str]:
    """Every kind the timeline knows, whoever asks (entries' kinds and every source's)."""
    return {str(v) for v in TimelineEntry.Kind.values} | {str(v) for s in TIMELINE_SOURCES for v, _label in s.kinds}


def timeline_rows(
    contact: Contact, user: User, *, kind: str = "", cursor: str = "", limit: int = TIMELINE_PAGE_SIZE
) -> Page[dict[str, Any]]:
    """The page of :func:`contact_timeline` as the API gives it: each row says its ``source``
    ("entry", or the source's item name: "event", "order"), ``kind``, time, a one-line title
    and detail; entries carry their own fields, the sources' rows their ``record`` (each
    source's ``describe``). A ``kind`` the user's role may not see is :class:`PermissionDenied`,
    an unknown one :class:`InvalidInput`."""
    if kind and kind not in {k for k, _label in timeline_kinds(user)}:
        if kind in timeline_all_kinds():
            raise PermissionDenied(gettext("Your role may not see this kind of timeline rows."))
        choices = ", ".join(sorted(timeline_all_kinds()))
        raise InvalidInput({"kind": [gettext("Choose one of: %(kinds)s.") % {"kinds": choices}]})
    page = _timeline_page(contact, user, kind=kind, cursor=cursor, limit=limit)
    described: dict[int, dict[str, Any]] = {}
    by_source: dict[int, tuple[TimelineSource, list[int]]] = {}
    for n, (source, _item, _pk) in enumerate(page.items):
        if source is not None:
            by_source.setdefault(id(source), (source, []))[1].append(n)
    for source, positions in by_source.values():
        items = [page.items[n][1] for n in positions]
        rows: list[TimelineRow | None] = list(source.describe(items, user)) if source.describe is not None else []
        rows += [None] * (len(positions) - len(rows))
        for n, row in zip(positions, rows, strict=False):
            described[n] = _source_row(contact, page.items[n], row)
    out = [
        described[n] if source is not None else _entry_row(item.entry)
        for n, (source, item, _pk) in enumerate(page.items)
    ]
    return Page(out, page.next_cursor)


def _entry_row(entry: TimelineEntry) -> dict[str, Any]:
    return {
        "source": "entry",
        "id": entry.pk,
        "contact_id": entry.contact_id,
        "kind": entry.kind,
        "occurred_at": entry.occurred_at,
        "title": entry.subject or str(entry.get_kind_display()),
        "detail": "",
        "channel": entry.channel,
        "subject": entry.subject,
        "body": entry.body,
        "author_id": entry.author_id,
        "author": str(entry.author) if entry.author else None,
        "is_private": entry.is_private,
        "data": entry.data or {},
        "created_at": entry.created_at,
        "updated_at": entry.updated_at,
        "record": None,
    }


def _source_row(contact: Contact, triple: tuple[TimelineSource, Any, int], row: TimelineRow | None) -> dict[str, Any]:
    _source, item, pk = triple
    return {
        "source": str(getattr(item, "source", "")),
        "id": pk,
        "contact_id": contact.pk,
        "kind": row.kind if row is not None else "",
        "occurred_at": item.at,
        "title": row.title if row is not None else "",
        "detail": row.detail if row is not None else "",
        "record": row.record if row is not None else {},
    }
