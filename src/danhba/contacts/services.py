"""Every write to contacts, companies, tags, custom fields and the timeline.

Views, the API, CLI commands and jobs parse their input into plain dicts and call one of these
functions with an :class:`~danhba.core.actor.Actor`. Each function normalises through
:mod:`danhba.core.normalize`, validates, checks the actor's role (object permission, record
visibility, sensitive fields), writes in one transaction, keeps the search keys current and
appends to the audit log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.accounts.models import User
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event, audit_events_bulk
from danhba.contacts.changes import contacts_changed, reasons_for_changes
from danhba.contacts.custom_fields import clean_custom_values, clean_value
from danhba.contacts.keys import company_key, email_key, name_key, name_keys, phone_key, tag_key
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
    Gender,
    LifecycleStage,
    NameOrder,
    SearchKey,
    SocialProfile,
    Source,
    Tag,
    TimelineEntry,
    anonymous_label,
)
from danhba.contacts.search import search_index, search_index_soon
from danhba.core.actor import Actor
from danhba.core.audit import changes_between, jsonable
from danhba.core.bulk import Table, allocate_ids
from danhba.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from danhba.core.keyset import MAX_PK
from danhba.core.normalize import (
    NormalizationError,
    clean_long_text,
    clean_text,
    fold,
    join_name,
    name_case,
    normalize_email,
    normalize_phone,
    parse_date,
    parse_datetime,
    split_name,
)
from danhba.core.vn import province_key

# Plain text fields a contact write may set directly (after clean_text).
TEXT_FIELDS = (
    "street",
    "ward",
    "address_raw",
    "occupation",
    "job_title",
    "education",
    "income_band",
)
LONG_TEXT_FIELDS = ("family", "lifestyle", "hobbies", "preferences", "motivations", "likes", "dislikes")
NAME_FIELDS = ("full_name", "family_name", "middle_name", "given_name")
CONTACT_FIELDS = (
    *NAME_FIELDS, "name_order", *TEXT_FIELDS, *LONG_TEXT_FIELDS, "province", "country", "birthday", "gender",
    "lifecycle_stage", "buyer_role", "source", "owner", "emails", "phones", "tags", "companies",
    "external_ids", "social_profiles", "custom",
)  # fmt: skip
MAX_LENGTHS: dict[str, int] = {
    f.name: int(getattr(f, "max_length", 0)) for f in Contact._meta.get_fields() if getattr(f, "max_length", None)
}


# --- permission helpers ---------------------------------------------------------------------


require = perms.require


def can_see_contact(user: User, contact: Contact) -> bool:
    return Contact.objects.visible_to(user).filter(pk=contact.pk).exists()


def contact_get(*, actor: Actor, pk: int, audit_view: bool = False) -> Contact:
    """A contact the actor may see, or :class:`NotFound` (never revealing that it exists)."""
    qs = Contact.objects.select_related("lifecycle_stage", "buyer_role", "owner")
    if actor.user is not None:
        qs = qs.visible_to(actor.user)
    contact = qs.filter(pk=pk).first()
    if contact is None:
        raise NotFound(_("No such contact."))
    if audit_view:
        audit_event(
            actor=actor,
            action=AuditEvent.Action.VIEW,
            object_type="contact",
            object_id=contact.pk,
            object_label=contact.display_name,
            contact_id=contact.pk,
        )
    return contact


def _check_sensitive(actor: Actor, data: dict[str, Any]) -> None:
    user = actor.user
    if user is None:
        return
    hidden = [k for k in perms.SENSITIVE_STANDARD_FIELDS if k in data and not user.sees_field(k)]
    custom = data.get("custom") or {}
    if custom:
        sensitive = CustomField.objects.filter(
            entity=CustomField.Entity.CONTACT, key__in=list(custom), is_sensitive=True
        )
        hidden += [f"custom.{f.key}" for f in sensitive if not user.sees_field(f.permission_key)]
    if hidden:
        raise PermissionDenied(
            _("Your role cannot change these fields."),
            {field: [_("not permitted for your role")] for field in hidden},
        )


# --- snapshots for the audit log ------------------------------------------------------------


def contact_snapshot(contact: Contact, related: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """A flat dict of everything about a contact that the audit log compares. ``related`` gives
    the emails, phones… of a contact just created, instead of reading them back."""
    snap: dict[str, Any] = {
        f: getattr(contact, f)
        for f in (
            *NAME_FIELDS,
            "name_order",
            *TEXT_FIELDS,
            *LONG_TEXT_FIELDS,
            "province",
            "country",
            "gender",
            "source",
        )
    }
    snap["birthday"] = contact.birthday.isoformat() if contact.birthday else None
    snap["lifecycle_stage"] = contact.lifecycle_stage.key if contact.lifecycle_stage_id else None
    snap["buyer_role"] = contact.buyer_role.key if contact.buyer_role else None
    snap["owner"] = contact.owner.email if contact.owner_id and contact.owner else None
    if related is not None:
        snap.update(related)
    elif contact.pk:
        snap["emails"] = [e.email for e in contact.emails.all()]
        snap["phones"] = [p.e164 for p in contact.phones.all()]
        snap["tags"] = sorted(t.name for t in contact.tags.all())
        snap["companies"] = [link.company.name for link in contact.company_links.select_related("company")]
        snap["external_ids"] = sorted(str(x) for x in contact.external_ids.all())
        snap["social_profiles"] = sorted(str(x) for x in contact.social_profiles.all())
    for key, value in (contact.custom or {}).items():
        snap[f"custom.{key}"] = value
    return snap


diff = changes_between


# --- input cleaning -------------------------------------------------------------------------


def _clean_contact(data: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    """Normalise the scalar fields present in ``data``; collection fields are handled apart."""
    out: dict[str, Any] = {}
    unknown = [k for k in data if k not in CONTACT_FIELDS]
    for key in unknown:
        errors[key] = [_("unknown field")]
    for key in (*TEXT_FIELDS, *LONG_TEXT_FIELDS):
        if key in data:
            value = data[key]
            text = clean_text(value) if key in TEXT_FIELDS else clean_long_text(value)
            if key in TEXT_FIELDS and len(text) > MAX_LENGTHS.get(key, 10_000):
                errors[key] = [_("at most %(n)s characters") % {"n": MAX_LENGTHS[key]}]
            out[key] = text
    for key in NAME_FIELDS:
        if key in data:
            out[key] = name_case(data[key])
            if len(out[key]) > MAX_LENGTHS[key]:
                errors[key] = [_("at most %(n)s characters") % {"n": MAX_LENGTHS[key]}]
    if "name_order" in data:
        if data["name_order"] not in NameOrder.values:
            errors["name_order"] = [_("must be one of %(choices)s") % {"choices": ", ".join(NameOrder.values)}]
        else:
            out["name_order"] = data["name_order"]
    if "province" in data:
        raw = clean_text(data["province"])
        province = province_key(raw) if raw else ""
        if province is None:
            errors["province"] = [_("unknown province '%(value)s'") % {"value": raw}]
        else:
            out["province"] = province
    if "country" in data:
        country = clean_text(data["country"]).upper() or "VN"
        if len(country) != 2 or not country.isalpha():
            errors["country"] = [_("must be a two-letter country code")]
        out["country"] = country
    if "birthday" in data:
        if data["birthday"] in (None, ""):
            out["birthday"] = None
        else:
            try:
                birthday = parse_date(data["birthday"])
                if birthday > timezone.localdate() or birthday.year < 1900:
                    errors["birthday"] = [_("must be a past date after 1900")]
                out["birthday"] = birthday
            except NormalizationError as exc:
                errors["birthday"] = [str(exc)]
    if "gender" in data:
        gender = data["gender"] or ""
        if gender not in ("", *Gender.values):
            errors["gender"] = [_("must be one of %(choices)s") % {"choices": ", ".join(Gender.values)}]
        out["gender"] = gender
    if "source" in data:
        if data["source"] not in Source.values:
            errors["source"] = [_("must be one of %(choices)s") % {"choices": ", ".join(Source.values)}]
        out["source"] = data["source"]
    if "lifecycle_stage" in data:
        stage = LifecycleStage.objects.filter(key=data["lifecycle_stage"], is_active=True).first()
        if stage is None:
            errors["lifecycle_stage"] = [_("unknown lifecycle stage '%(value)s'") % {"value": data["lifecycle_stage"]}]
        out["lifecycle_stage"] = stage
    if "buyer_role" in data:
        if data["buyer_role"] in (None, ""):
            out["buyer_role"] = None
        else:
            role = BuyerRole.objects.filter(key=data["buyer_role"], is_active=True).first()
            if role is None:
                errors["buyer_role"] = [_("unknown buyer role '%(value)s'") % {"value": data["buyer_role"]}]
            out["buyer_role"] = role
    if "owner" in data:
        if data["owner"] in (None, ""):
            out["owner"] = None
        else:
            owner = (
                User.objects.filter(pk=data["owner"], is_active=True).first() if str(data["owner"]).isdigit() else None
            )
            if owner is None:
                errors["owner"] = [_("no such active user")]
            out["owner"] = owner
    return out


def _clean_emails(items: Any, errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    cleaned: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(_as_list(items, "email")):
        try:
            email = normalize_email(item.get("email"))
        except NormalizationError as exc:
            errors[f"emails.{i}"] = [str(exc)]
            continue
        if email in seen:
            continue
        seen.add(email)
        cleaned.append(
            {
                "email": email,
                "label": clean_text(item.get("label") or "personal")[:30],
                "is_primary": bool(item.get("is_primary")),
            }
        )
    _one_primary(cleaned)
    return cleaned


def _clean_phones(items: Any, errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    cleaned: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(_as_list(items, "phone")):
        raw = clean_text(item.get("phone") or item.get("e164"))
        try:
            phone = normalize_phone(raw)
        except NormalizationError as exc:
            errors[f"phones.{i}"] = [f"{raw!r}: {exc}"]
            continue
        if phone.e164 in seen:
            continue
        seen.add(phone.e164)
        cleaned.append(
            {
                "e164": phone.e164,
                "raw": raw[:40],
                "kind": phone.kind,
                "label": clean_text(item.get("label") or phone.kind)[:30],
                "is_primary": bool(item.get("is_primary")),
            }
        )
    _one_primary(cleaned)
    return cleaned


def _as_list(items: Any, key: str) -> list[dict[str, Any]]:
    """Accept ``["a@x.vn"]`` as well as ``[{"email": "a@x.vn", "label": "work"}]``."""
    if items is None:
        return []
    if isinstance(items, (str, dict)):
        items = [items]
    return [item if isinstance(item, dict) else {key: item} for item in items]


def _one_primary(items: list[dict[str, Any]]) -> None:
    primaries = [i for i in items if i["is_primary"]]
    for extra in primaries[1:]:
        extra["is_primary"] = False
    if items and not primaries:
        items[0]["is_primary"] = True


def _clean_tags(names: Any, errors: dict[str, list[str]]) -> list[str]:
    if isinstance(names, str):
        names = [n for n in names.split(",")]
    out: list[str] = []
    for name in names or []:
        text = clean_text(name)
        if not text:
            continue
        if len(text) > 80:
            errors["tags"] = [_("a tag has at most 80 characters")]
            continue
        if fold(text) not in {fold(t) for t in out}:
            out.append(text)
    return out


def _clean_companies(
    items: Any, errors: dict[str, list[str]], actor: Actor, contact: Contact | None
) -> list[dict[str, Any]]:
    """Company links from ids (``company_id``) or names. A name picks the company already linked
    to this contact under that name, else the one company with that name, else a new company
    (for roles that may create companies); a name several companies share must be given by id.
    One company listed twice is refused: a contact is linked to a company once."""
    linked = (
        {link.company.name_key: link.company for link in contact.company_links.select_related("company")}
        if contact is not None and contact.pk
        else {}
    )
    may_create = actor.user is None or actor.user.can("company", perms.CREATE)
    out: list[dict[str, Any]] = []
    seen: set[Any] = set()
    for i, item in enumerate(_as_list(items, "company")):
        company, error = _company_for(item, linked, may_create)
        if company is None:
            errors[f"companies.{i}"] = [error]
            continue
        # A new company is known by its name only: two links to one new name are one company.
        identity = company.pk or ("new", fold(company.name))
        if identity in seen:
            errors[f"companies.{i}"] = [_("this company is already listed")]
            continue
        seen.add(identity)
        out.append(
            {
                "company": company,
                "is_primary": bool(item.get("is_primary")),
                "job_title": clean_text(item.get("job_title"))[:120],
            }
        )
    _one_primary(out)
    return out


def _company_for(item: dict[str, Any], linked: dict[str, Company], may_create: bool) -> tuple[Company | None, str]:
    """The company one link names (unsaved when it is to be created), or None and why not."""
    ref = item.get("company")
    company_id = item.get("company_id")
    if isinstance(ref, Company):
        return ref, ""
    if company_id not in (None, ""):
        company: Company | None = None
        if isinstance(company_id, int) and not isinstance(company_id, bool) and 0 < company_id <= MAX_PK:
            company = Company.objects.filter(pk=company_id).first()
        elif isinstance(company_id, str) and company_id.isascii() and company_id.isdigit() and len(company_id) < 19:
            company = Company.objects.filter(pk=int(company_id)).first()
        return company, "" if company else _("no such company")
    name = clean_text(ref if isinstance(ref, str) else item.get("name"))[:200]
    if not name:
        return None, _("no such company")
    key = company_key(name)
    if key in linked:
        return linked[key], ""
    matches = list(Company.objects.filter(name_key=key)[:2])
    if len(matches) > 1:
        return None, _("several companies are called “%(name)s”; choose one by its id") % {"name": name}
    if matches:
        return matches[0], ""
    if may_create:
        return Company(name=name), ""
    return None, _("no company is called “%(name)s”, and your role cannot create companies") % {"name": name}


def _check_new_tags(actor: Actor, names: list[str], errors: dict[str, list[str]], field: str = "tags") -> None:
    """Tags that do not exist yet are created on the fly only for roles that may create tags."""
    if not names or actor.user is None or actor.user.can("tag", perms.CREATE):
        return
    known = set(Tag.objects.filter(name_key__in=[tag_key(n) for n in names]).values_list("name_key", flat=True))
    unknown = [n for n in names if tag_key(n) not in known]
    if unknown:
        errors[field] = [_("unknown tags: %(names)s (your role cannot create tags)") % {"names": ", ".join(unknown)}]


def _clean_pairs(
    items: Any, first: str, second: str, errors: dict[str, list[str]], field: str, allowed: Sequence[str] | None = None
) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for i, item in enumerate(items or []):
        if not isinstance(item, dict):
            errors[f"{field}.{i}"] = [
                _("must be an object with '%(first)s' and '%(second)s'") % {"first": first, "second": second}
            ]
            continue
        a, b = clean_text(item.get(first)), clean_text(item.get(second))
        if not a or not b:
            errors[f"{field}.{i}"] = [
                _("'%(first)s' and '%(second)s' are both required") % {"first": first, "second": second}
            ]
        elif allowed is not None and a not in allowed:
            errors[f"{field}.{i}"] = [
                _("'%(first)s' must be one of %(choices)s") % {"first": first, "choices": ", ".join(allowed)}
            ]
        elif len(a) > 60 or len(b) > 200:
            errors[f"{field}.{i}"] = [_("too long")]
        elif (a, b) not in out:
            out.append((a, b))
    return out


# --- contacts -------------------------------------------------------------------------------


def _name_or_identity(
    cleaned: dict[str, Any],
    emails: list[dict[str, Any]],
    phones: list[dict[str, Any]],
    external_ids: list[tuple[str, str]],
    errors: dict[str, list[str]],
) -> None:
    """A new contact needs a name or something that identifies it. Known only by email or
    phone, it is named after it; known only by an external id (an event's userId), it stays
    without a name and shows as "Anonymous #id" (``Contact.display_name``): the id is the
    sender's key, not what anyone is called."""
    if cleaned.get("full_name") or any(cleaned.get(k) for k in NAME_FIELDS[1:]):
        return
    if emails or phones:
        cleaned["full_name"] = emails[0]["email"].split("@")[0] if emails else phones[0]["e164"]
    elif not external_ids:
        errors.setdefault("full_name", [_("a name, an email, a phone or an external id is required")])


def _apply_names(contact: Contact, cleaned: dict[str, Any], creating: bool) -> None:
    order = cleaned.get("name_order", contact.name_order)
    parts_given = any(k in cleaned for k in ("family_name", "middle_name", "given_name"))
    if "full_name" in cleaned and not parts_given:
        parts = split_name(cleaned["full_name"], order)
        contact.full_name = cleaned["full_name"]
        contact.family_name, contact.middle_name, contact.given_name = parts.family, parts.middle, parts.given
    else:
        for key in NAME_FIELDS:
            if key in cleaned:
                setattr(contact, key, cleaned[key])
        if parts_given and ("full_name" not in cleaned or not cleaned["full_name"]):
            contact.full_name = join_name(contact.family_name, contact.middle_name, contact.given_name, order)
    contact.name_key = name_key(contact.full_name)


def contact_create(*, actor: Actor, data: dict[str, Any]) -> Contact:
    require(actor, "contact", perms.CREATE)
    return _contact_write(actor=actor, contact=None, data=data)


def contact_update(*, actor: Actor, contact: Contact, data: dict[str, Any]) -> Contact:
    require(actor, "contact", perms.EDIT)
    if actor.user is not None and not can_see_contact(actor.user, contact):
        raise NotFound(_("No such contact."))
    return _contact_write(actor=actor, contact=contact, data=data)


def _contact_write(*, actor: Actor, contact: Contact | None, data: dict[str, Any]) -> Contact:
    creating = contact is None
    _check_sensitive(actor, data)
    errors: dict[str, list[str]] = {}
    cleaned = _clean_contact(data, errors)
    emails = _clean_emails(data["emails"], errors) if "emails" in data else None
    phones = _clean_phones(data["phones"], errors) if "phones" in data else None
    tags = _clean_tags(data["tags"], errors) if "tags" in data else None
    _check_new_tags(actor, tags or [], errors)
    companies = _clean_companies(data["companies"], errors, actor, contact) if "companies" in data else None
    external_ids = (
        _clean_pairs(data["external_ids"], "system", "value", errors, "external_ids")
        if "external_ids" in data
        else None
    )
    socials = (
        _clean_pairs(
            data["social_profiles"], "network", "handle", errors, "social_profiles", SocialProfile.Network.values
        )
        if "social_profiles" in data
        else None
    )
    custom_in = data.get("custom") or {}
    if not isinstance(custom_in, dict):
        errors["custom"] = [_("must be an object of field key → value")]
        custom_in = {}
    custom, custom_errors = clean_custom_values(
        CustomField.Entity.CONTACT, custom_in, contact.custom if contact else None, creating=creating
    )
    errors.update(custom_errors)

    if creating:
        contact = Contact(created_at=timezone.now())
        _name_or_identity(cleaned, emails or [], phones or [], external_ids or [], errors)
        if "lifecycle_stage" not in cleaned:
            cleaned["lifecycle_stage"] = LifecycleStage.objects.filter(is_active=True).order_by("position").first()
        if "source" not in cleaned:
            cleaned["source"] = Source.API if actor.via == "api" else Source.OTHER
        if "owner" not in cleaned and actor.user is not None and actor.user.role.record_scope != perms.SCOPE_ALL:
            # Sales reps own what they create, or they could not see it afterwards.
            cleaned["owner"] = actor.user
    elif "full_name" in cleaned and not cleaned["full_name"] and not any(cleaned.get(k) for k in NAME_FIELDS[1:]):
        errors["full_name"] = [_("cannot be empty")]
    if errors:
        raise InvalidInput(errors)
    assert contact is not None

    try:
        return _contact_save(actor, contact, creating, cleaned, custom, set(custom_in), emails, phones, tags,
                             companies, external_ids, socials)  # fmt: skip
    except Conflict as exc:
        raise _conflict_for(actor, exc) from None


def _conflict_for(actor: Actor, exc: Conflict) -> Conflict:
    """A conflict names the other contact only to a caller who may see it."""
    other = exc.details.get("contact_id") if isinstance(exc.details, dict) else None
    if other is None or actor.user is None or Contact.objects.visible_to(actor.user).filter(pk=other).exists():
        return exc
    details = {k: [_("already belongs to another contact")] for k in exc.details if k != "contact_id"}
    return Conflict(exc.message, details)


def _contact_save(
    actor: Actor,
    contact: Contact,
    creating: bool,
    cleaned: dict[str, Any],
    custom: dict[str, Any],
    custom_touched: set[str],
    emails: list[dict[str, Any]] | None,
    phones: list[dict[str, Any]] | None,
    tags: list[str] | None,
    companies: list[dict[str, Any]] | None,
    external_ids: list[tuple[str, str]] | None,
    socials: list[tuple[str, str]] | None,
) -> Contact:
    with transaction.atomic():
        if not creating:
            # Re-read under a row lock: two people saving different sections at once must not
            # overwrite each other with stale copies, and "before" must be what was stored.
            contact = Contact.objects.select_for_update().get(pk=contact.pk)
            stored = dict(contact.custom or {})
            for key in custom_touched:
                if key in custom:
                    stored[key] = custom[key]
                else:
                    stored.pop(key, None)
            custom = stored
        before = {} if creating else contact_snapshot(contact)
        _apply_names(contact, cleaned, creating)
        for key, value in cleaned.items():
            if key not in NAME_FIELDS:
                setattr(contact, key, value)
        contact.custom = custom
        contact.updated_at = timezone.now()
        contact.save()
        if emails is not None:
            _replace_emails(contact, emails, creating)
        if phones is not None:
            if not creating:
                contact.phones.all().delete()
            ContactPhone.objects.bulk_create([ContactPhone(contact=contact, **p) for p in phones])
            contact.phone = next((p["e164"] for p in phones if p["is_primary"]), "")
        if tags is not None:
            _set_tags(actor, contact, tags)
        if companies is not None and not creating:
            contact.company_links.all().delete()
        if companies is not None:
            for link in companies:
                if link["company"].pk is None:
                    link["company"] = _company_save_new(actor, link["company"])
                ContactCompany.objects.create(contact=contact, **link)
        if external_ids is not None:
            _replace_external_ids(contact, external_ids, creating)
        if socials is not None and not creating:
            contact.social_profiles.all().delete()
        if socials is not None:
            SocialProfile.objects.bulk_create([SocialProfile(contact=contact, network=n, handle=h) for n, h in socials])
        contact.save(update_fields=["email", "phone"])
        search_index([contact.pk])
        # A new contact's related rows are exactly what was just written (tags excepted: an
        # existing tag keeps its own spelling).
        related = (
            {
                "emails": [e["email"] for e in emails or ()],
                "phones": [p["e164"] for p in phones or ()],
                "tags": sorted(t.name for t in contact.tags.all()) if tags else [],
                "companies": [link["company"].name for link in companies or ()],
                "external_ids": sorted(str(ExternalId(system=s, value=v)) for s, v in external_ids or ()),
                "social_profiles": sorted(str(SocialProfile(network=n, handle=h)) for n, h in socials or ()),
            }
            if creating
            else None
        )
        after = contact_snapshot(contact, related)
        changes = diff(before, after)
        if creating or changes:
            audit_event(
                actor=actor,
                action=AuditEvent.Action.CREATE if creating else AuditEvent.Action.UPDATE,
                object_type="contact",
                object_id=contact.pk,
                object_label=contact.display_name,
                contact_id=contact.pk,
                changes=changes,
            )
            if not creating:
                _timeline_change(contact, actor, changes)
            if creating:
                contacts_changed(created=[contact.pk])
            else:
                contacts_changed(updated={contact.pk: list(changes)})
    return contact


def _timeline_change(contact: Contact, actor: Actor, changes: dict[str, list[Any]]) -> None:
    """A change entry on the timeline, naming the fields (values stay in the audit log, which
    respects sensitive-field permissions). Sensitive fields are only counted: the timeline is
    read by roles that may not even know such a field changed."""
    sensitive = set(perms.SENSITIVE_STANDARD_FIELDS) | {
        f"custom.{key}"
        for key in CustomField.objects.filter(entity="contact", is_sensitive=True).values_list("key", flat=True)
    }
    shown = sorted(k for k in changes if k not in sensitive)
    protected = len(changes) - len(shown)
    TimelineEntry.objects.create(
        contact=contact,
        kind=TimelineEntry.Kind.SYSTEM,
        author=actor.user,
        subject=", ".join(shown)[:200],
        data={"fields": shown, "protected_fields": protected, "via": actor.via},
    )


def _replace_emails(contact: Contact, emails: list[dict[str, Any]], creating: bool = False) -> None:
    taken = ContactEmail.objects.filter(email__in=[e["email"] for e in emails]).exclude(contact=contact)
    clash = taken.values_list("email", "contact_id").first()
    if clash:
        raise Conflict(
            _("The email %(email)s already belongs to another contact.") % {"email": clash[0]},
            {
                "emails": [_("%(email)s already belongs to contact %(id)s") % {"email": clash[0], "id": clash[1]}],
                "contact_id": clash[1],
            },
        )
    if not creating:
        contact.emails.all().delete()
    try:
        with transaction.atomic():
            ContactEmail.objects.bulk_create([ContactEmail(contact=contact, **e) for e in emails])
    except IntegrityError:
        # Lost a race with another writer claiming the same address.
        raise Conflict(
            _("One of these emails was just added to another contact."), {"emails": [_("already taken")]}
        ) from None
    contact.email = next((e["email"] for e in emails if e["is_primary"]), "")


def _replace_external_ids(contact: Contact, pairs: list[tuple[str, str]], creating: bool = False) -> None:
    q = Q()
    for system, value in pairs:
        q |= Q(system=system, value=value)
    if pairs:
        clash = ExternalId.objects.filter(q).exclude(contact=contact).first()
        if clash:
            raise Conflict(
                _("The external id %(value)s already belongs to another contact.") % {"value": clash},
                {
                    "external_ids": [
                        _("%(value)s already belongs to contact %(id)s") % {"value": clash, "id": clash.contact_id}
                    ],
                    "contact_id": clash.contact_id,
                },
            )
    if not creating:
        contact.external_ids.all().delete()
    try:
        with transaction.atomic():
            ExternalId.objects.bulk_create([ExternalId(contact=contact, system=s, value=v) for s, v in pairs])
    except IntegrityError:
        # Lost a race with another writer claiming the same id.
        raise Conflict(
            _("One of these external ids was just added to another contact."), {"external_ids": [_("already taken")]}
        ) from None


def _tags_get_or_create(actor: Actor, names: Iterable[str]) -> list[Tag]:
    tags = []
    for name in names:
        tag, created = Tag.objects.get_or_create(name_key=tag_key(name), defaults={"name": name})
        if created:
            audit_event(
                actor=actor, action=AuditEvent.Action.CREATE, object_type="tag", object_id=tag.pk,
                object_label=tag.name, changes={"name": [None, tag.name]},
            )  # fmt: skip
        tags.append(tag)
    return tags


def _set_tags(actor: Actor, contact: Contact, names: list[str]) -> None:
    tags = _tags_get_or_create(actor, names)
    ContactTag.objects.filter(contact=contact).exclude(tag__in=tags).delete()
    existing = set(ContactTag.objects.filter(contact=contact).values_list("tag_id", flat=True))
    ContactTag.objects.bulk_create([ContactTag(contact=contact, tag=t) for t in tags if t.pk not in existing])


def contact_delete(*, actor: Actor, contact: Contact) -> None:
    require(actor, "contact", perms.DELETE)
    if actor.user is not None and not can_see_contact(actor.user, contact):
        raise NotFound(_("No such contact."))
    with transaction.atomic():
        audit_event(
            actor=actor,
            action=AuditEvent.Action.DELETE,
            object_type="contact",
            object_id=contact.pk,
            object_label=contact.display_name,
            contact_id=contact.pk,
            changes=diff(contact_snapshot(contact), {}),
        )
        contacts_changed(deleted=[contact.pk])
        contact.delete()


def contacts_bulk_update(
    *,
    actor: Actor,
    contact_ids: Sequence[int],
    add_tags: Sequence[str] = (),
    remove_tags: Sequence[str] = (),
    owner: int | str | None = "",
    lifecycle_stage: str = "",
) -> int:
    """Tag, untag, assign or move many contacts in a few queries. Returns how many changed.

    ``owner=""`` leaves owners alone; ``owner=None`` unassigns.
    """
    require(actor, "contact", perms.EDIT)
    qs = Contact.objects.filter(pk__in=list(contact_ids))
    if actor.user is not None:
        qs = qs.visible_to(actor.user)
    ids = list(qs.values_list("pk", flat=True))
    errors: dict[str, list[str]] = {}
    updates: dict[str, Any] = {}
    label_changes: dict[str, list[Any]] = {}
    if owner != "":
        owner_obj = None
        if owner is not None:
            owner_obj = User.objects.filter(pk=owner, is_active=True).first()
            if owner_obj is None:
                errors["owner"] = [_("no such active user")]
        updates["owner"] = owner_obj
        label_changes["owner"] = [None, owner_obj.email if owner_obj else None]
    if lifecycle_stage:
        stage = LifecycleStage.objects.filter(key=lifecycle_stage, is_active=True).first()
        if stage is None:
            errors["lifecycle_stage"] = [_("unknown lifecycle stage '%(value)s'") % {"value": lifecycle_stage}]
        updates["lifecycle_stage"] = stage
        label_changes["lifecycle_stage"] = [None, lifecycle_stage]
    add = _clean_tags(add_tags, errors)
    _check_new_tags(actor, add, errors, "add_tags")
    remove = _clean_tags(remove_tags, errors)
    if errors:
        raise InvalidInput(errors)
    if not ids:
        return 0
    now = timezone.now()
    with transaction.atomic():
        # What each contact held before, so every audit row says "from what to what".
        previous = {
            row["pk"]: row
            for row in Contact.objects.select_for_update(of=("self",))
            .filter(pk__in=ids)
            .values("pk", "full_name", "owner__email", "lifecycle_stage__key")
        }
        if updates:
            Contact.objects.filter(pk__in=ids).update(**updates, updated_at=now)
        if add:
            tags = _tags_get_or_create(actor, add)
            ContactTag.objects.bulk_create(
                [ContactTag(contact_id=cid, tag=t) for cid in ids for t in tags], ignore_conflicts=True, batch_size=1000
            )
            label_changes["tags added"] = [None, add]
        if remove:
            ContactTag.objects.filter(contact_id__in=ids, tag__name_key__in=[tag_key(t) for t in remove]).delete()
            label_changes["tags removed"] = [None, remove]
        if add or remove:
            Contact.objects.filter(pk__in=ids).update(updated_at=now)
        rows = []
        for cid in ids:
            before: dict[str, Any] = dict(previous.get(cid) or {})
            changes = dict(label_changes)
            if "owner" in changes:
                changes["owner"] = [before.get("owner__email"), label_changes["owner"][1]]
            if "lifecycle_stage" in changes:
                changes["lifecycle_stage"] = [before.get("lifecycle_stage__key"), lifecycle_stage]
            changes = {k: v for k, v in changes.items() if k.startswith("tags") or v[0] != v[1]}
            if changes:
                rows.append((cid, before.get("full_name", ""), cid, changes))
        audit_events_bulk(actor=actor, action=AuditEvent.Action.UPDATE, object_type="contact", rows=rows)
        # Segments hear the bulk edit's reasons for every changed contact, as one edit.
        why = reasons_for_changes(label_changes)
        contacts_changed(
            updated={cid: list(changes) for cid, _label, _cid, changes in rows},
            reasons={cid: why for cid, *_rest in rows},
        )
    return len(ids)


# --- companies ------------------------------------------------------------------------------

COMPANY_TEXT_FIELDS = ("name", "industry", "size", "street", "ward", "tax_code")


def _company_save_new(actor: Actor, company: Company) -> Company:
    company.name_key = company_key(company.name)
    company.save()
    audit_event(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        object_type="company",
        object_id=company.pk,
        object_label=company.name,
        changes={"name": [None, company.name]},
    )
    return company


def company_save(*, actor: Actor, company: Company | None, data: dict[str, Any]) -> Company:
    creating = company is None
    require(actor, "company", perms.CREATE if creating else perms.EDIT)
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    allowed = {
        *COMPANY_TEXT_FIELDS,
        "domain",
        "website",
        "email",
        "phone",
        "province",
        "description",
        "owner",
        "custom",
    }
    for key in data:
        if key not in allowed:
            errors[key] = [_("unknown field")]
    for key in COMPANY_TEXT_FIELDS:
        if key in data:
            cleaned[key] = clean_text(data[key])
            limit = int(getattr(Company._meta.get_field(key), "max_length", 0) or 255)
            if len(cleaned[key]) > limit:
                errors[key] = [_("at most %(n)s characters") % {"n": limit}]
    if "description" in data:
        cleaned["description"] = clean_long_text(data["description"])
    if "domain" in data:
        cleaned["domain"] = clean_text(data["domain"]).lower().removeprefix("www.")[:200]
    for key, ftype in (
        ("website", CustomField.Type.URL),
        ("email", CustomField.Type.EMAIL),
        ("phone", CustomField.Type.PHONE),
    ):
        if key in data:
            if not clean_text(data[key]):
                cleaned[key] = ""
                continue
            try:
                cleaned[key] = clean_value(CustomField(type=ftype), data[key])
            except ValueError as exc:
                errors[key] = [str(exc)]
                continue
            limit = int(getattr(Company._meta.get_field(key), "max_length", 0) or 255)
            if len(cleaned[key]) > limit:
                errors[key] = [_("at most %(n)s characters") % {"n": limit}]
    if "province" in data:
        province = province_key(data["province"]) if clean_text(data["province"]) else ""
        if province is None:
            errors["province"] = [_("unknown province '%(value)s'") % {"value": data["province"]}]
        cleaned["province"] = province or ""
    if "owner" in data:
        cleaned["owner"] = None
        if data["owner"] not in (None, ""):
            cleaned["owner"] = (
                User.objects.filter(pk=data["owner"], is_active=True).first() if str(data["owner"]).isdigit() else None
            )
            if cleaned["owner"] is None:
                errors["owner"] = [_("no such active user")]
    custom_in = data.get("custom") or {}
    if not isinstance(custom_in, dict):
        errors["custom"] = [_("must be an object of field key → value")]
        custom_in = {}
    if custom_in and actor.user is not None:
        user = actor.user
        sensitive = CustomField.objects.filter(
            entity=CustomField.Entity.COMPANY, key__in=list(custom_in), is_sensitive=True
        )
        hidden = [f"custom.{f.key}" for f in sensitive if not user.sees_field(f.permission_key)]
        if hidden:
            raise PermissionDenied(
                _("Your role cannot change these fields."), {k: [_("not permitted for your role")] for k in hidden}
            )
    custom, custom_errors = clean_custom_values(
        CustomField.Entity.COMPANY, custom_in, company.custom if company else None, creating=creating
    )
    errors.update(custom_errors)
    if creating and not cleaned.get("name"):
        errors["name"] = [_("this field is required")]
    if not creating and "name" in cleaned and not cleaned["name"]:
        errors["name"] = [_("cannot be empty")]
    if errors:
        raise InvalidInput(errors)
    company = company or Company()
    before = {} if creating else _company_snapshot(company)
    renamed = not creating and "name" in cleaned and cleaned["name"] != company.name
    with transaction.atomic():
        for key, value in cleaned.items():
            setattr(company, key, value)
        company.custom = custom
        company.name_key = company_key(company.name)
        company.updated_at = timezone.now()
        company.save()
        if renamed:
            search_index_soon(list(company.contact_links.values_list("contact_id", flat=True)))
        changes = diff(before, _company_snapshot(company))
        if creating or changes:
            audit_event(
                actor=actor,
                action=AuditEvent.Action.CREATE if creating else AuditEvent.Action.UPDATE,
                object_type="company",
                object_id=company.pk,
                object_label=company.name,
                changes=changes,
            )
        if changes and not creating:
            contacts_changed(
                reasons={cid: ["company"] for cid in company.contact_links.values_list("contact_id", flat=True)}
            )
    return company


def _company_snapshot(company: Company) -> dict[str, Any]:
    snap = {
        k: getattr(company, k)
        for k in (*COMPANY_TEXT_FIELDS, "domain", "website", "email", "phone", "province", "description")
    }
    snap["owner"] = company.owner.email if company.owner_id and company.owner else None
    snap.update({f"company_custom.{k}": v for k, v in (company.custom or {}).items()})
    return snap


def company_delete(*, actor: Actor, company: Company) -> None:
    require(actor, "company", perms.DELETE)
    with transaction.atomic():
        contact_ids = list(company.contact_links.values_list("contact_id", flat=True))
        audit_event(
            actor=actor,
            action=AuditEvent.Action.DELETE,
            object_type="company",
            object_id=company.pk,
            object_label=company.name,
            changes=diff(_company_snapshot(company), {}),
        )
        company.delete()
        search_index(contact_ids)


# --- tags -----------------------------------------------------------------------------------


def tag_save(*, actor: Actor, tag: Tag | None, name: str, color: str = "") -> Tag:
    require(actor, "tag", perms.CREATE if tag is None else perms.EDIT)
    text = clean_text(name)
    errors: dict[str, list[str]] = {}
    if not text or len(text) > 80:
        errors["name"] = [_("between 1 and 80 characters")]
    if color and not (
        len(color) == 7 and color.startswith("#") and all(c in "0123456789abcdefABCDEF" for c in color[1:])
    ):
        errors["color"] = [_("a colour like #1d4ed8")]
    clashes = Tag.objects.filter(name_key=tag_key(text))
    clash = (clashes.exclude(pk=tag.pk) if tag else clashes).first()
    if clash:
        errors["name"] = [_("the tag '%(name)s' already exists") % {"name": clash.name}]
    if errors:
        raise InvalidInput(errors)
    tag = tag or Tag()
    before = {"name": tag.name, "color": tag.color}
    tag.name, tag.name_key = text, tag_key(text)
    if color:
        tag.color = color
    try:
        with transaction.atomic():
            tag.save()
    except IntegrityError:
        raise InvalidInput({"name": [_("this tag already exists")]}) from None
    audit_event(
        actor=actor,
        action=AuditEvent.Action.UPDATE if before["name"] else AuditEvent.Action.CREATE,
        object_type="tag",
        object_id=tag.pk,
        object_label=tag.name,
        changes=diff(before if before["name"] else {}, {"name": tag.name, "color": tag.color}),
    )
    return tag


def tag_delete(*, actor: Actor, tag: Tag) -> None:
    require(actor, "tag", perms.DELETE)
    audit_event(
        actor=actor, action=AuditEvent.Action.DELETE, object_type="tag", object_id=tag.pk, object_label=tag.name
    )
    tag.delete()


# --- custom field definitions ---------------------------------------------------------------


def customfield_save(*, actor: Actor, field: CustomField | None, data: dict[str, Any]) -> CustomField:
    require(actor, "customfield", perms.CREATE if field is None else perms.EDIT)
    creating = field is None
    field = field or CustomField()
    errors: dict[str, list[str]] = {}
    label = clean_text(data.get("label", field.label))
    if not label or len(label) > 120:
        errors["label"] = [_("between 1 and 120 characters")]
    if creating:
        entity = data.get("entity") or CustomField.Entity.CONTACT
        if entity not in CustomField.Entity.values:
            errors["entity"] = [_("must be one of %(choices)s") % {"choices": ", ".join(CustomField.Entity.values)}]
        ftype = data.get("type")
        if ftype not in CustomField.Type.values:
            errors["type"] = [_("must be one of %(choices)s") % {"choices": ", ".join(CustomField.Type.values)}]
        key = slugify(fold(data.get("key") or label)).replace("-", "_")[:54]
        if key in _reserved_custom_keys():
            # "contains", "in", "gt"… would be read as query lookups in filters on the JSON column.
            key = f"{key}_field"
        if not key:
            errors["key"] = [_("letters, digits and underscores")]
        elif CustomField.objects.filter(entity=entity, key=key).exists():
            errors["key"] = [_("a field with key '%(key)s' already exists") % {"key": key}]
        field.entity, field.type, field.key = entity, ftype or "", key
    elif "type" in data and data["type"] != field.type:
        errors["type"] = [_("the type of an existing field cannot change; add a new field instead")]
    choices = data.get("choices", field.choices)
    if isinstance(choices, str):
        choices = [c for c in (clean_text(x) for x in choices.replace("\n", ",").split(",")) if c]
    if field.type in (CustomField.Type.CHOICE, CustomField.Type.MULTI_CHOICE) and not choices:
        errors["choices"] = [_("a choice field needs at least one choice")]
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        errors["choices"] = [_("a list of texts")]
    if errors:
        raise InvalidInput(errors)
    before = (
        {}
        if creating
        else {
            "label": field.label,
            "choices": field.choices,
            "required": field.required,
            "is_sensitive": field.is_sensitive,
            "is_active": field.is_active,
        }
    )
    field.label = label
    field.choices = (
        list(dict.fromkeys(choices)) if field.type in (CustomField.Type.CHOICE, CustomField.Type.MULTI_CHOICE) else []
    )
    for flag in ("required", "is_sensitive", "is_active"):
        if flag in data:
            setattr(field, flag, bool(data[flag]))
    if "help_text" in data:
        field.help_text = clean_text(data["help_text"])[:240]
    if "position" in data:
        try:
            field.position = max(0, min(int(data["position"]), 32000))
        except (TypeError, ValueError):
            raise InvalidInput({"position": [_("a whole number")]}) from None
    field.save()
    after = {
        "label": field.label,
        "choices": field.choices,
        "required": field.required,
        "is_sensitive": field.is_sensitive,
        "is_active": field.is_active,
    }
    audit_event(
        actor=actor,
        action=AuditEvent.Action.CREATE if creating else AuditEvent.Action.UPDATE,
        object_type="customfield",
        object_id=field.pk,
        object_label=field.label,
        changes=diff(before, after),
    )
    return field


def _reserved_custom_keys() -> set[str]:
    from django.db.models import JSONField

    return {name.lower() for name in JSONField.get_lookups()} | {"pk", "id"}


def customfield_delete(*, actor: Actor, field: CustomField) -> None:
    """Retire a field: values stay in the JSON column (the audit trail can still explain them)
    but the field no longer shows, validates or exports."""
    require(actor, "customfield", perms.DELETE)
    field.is_active = False
    field.save(update_fields=["is_active"])
    audit_event(
        actor=actor,
        action=AuditEvent.Action.DELETE,
        object_type="customfield",
        object_id=field.pk,
        object_label=field.label,
    )


# --- timeline -------------------------------------------------------------------------------


def timeline_entry_save(
    *, actor: Actor, contact: Contact, entry: TimelineEntry | None, data: dict[str, Any]
) -> TimelineEntry:
    creating = entry is None
    require(actor, "timeline", perms.CREATE if creating else perms.EDIT)
    if actor.user is not None and not can_see_contact(actor.user, contact):
        raise NotFound(_("No such contact."))
    errors: dict[str, list[str]] = {}
    entry = entry or TimelineEntry(contact=contact, author=actor.user)
    if not creating and entry.kind == TimelineEntry.Kind.SYSTEM:
        raise PermissionDenied(_("Change records on the timeline cannot be edited."))
    if not creating and entry.is_private and actor.user is not None and not _sees_private(actor.user, entry):
        raise NotFound(_("No such timeline entry."))
    if not creating and actor.user is not None and not (actor.user.is_admin or entry.author_id == actor.user.pk):
        raise PermissionDenied(_("Only the author or an admin can change a timeline entry."))
    kind = data.get("kind", entry.kind)
    if kind not in TimelineEntry.Kind.values or kind == TimelineEntry.Kind.SYSTEM:
        errors["kind"] = [
            _("must be one of %(choices)s")
            % {"choices": ", ".join(k for k in TimelineEntry.Kind.values if k != "system")}
        ]
    channel = data.get("channel", entry.channel) or ""
    if channel and channel not in TimelineEntry.Channel.values:
        errors["channel"] = [_("must be one of %(choices)s") % {"choices": ", ".join(TimelineEntry.Channel.values)}]
    subject = clean_text(data.get("subject", entry.subject))
    if len(subject) > 200:
        errors["subject"] = [_("at most %(n)s characters") % {"n": 200}]
    body = clean_long_text(data.get("body", entry.body))
    if not subject and not body:
        errors["body"] = [_("write a subject or some details")]
    occurred_at = data.get("occurred_at") or entry.occurred_at
    try:
        occurred_at = parse_datetime(occurred_at)
    except NormalizationError as exc:
        errors["occurred_at"] = [str(exc)]
        occurred_at = entry.occurred_at
    is_private = bool(data.get("is_private", entry.is_private))
    if is_private and actor.user is not None and not actor.user.sees_field("private_notes"):
        errors["is_private"] = [_("your role cannot write private notes")]
    if errors:
        raise InvalidInput(errors)
    before = (
        {}
        if creating
        else {
            "kind": entry.kind,
            "channel": entry.channel,
            "subject": entry.subject,
            "body": entry.body,
            "is_private": entry.is_private,
        }
    )
    with transaction.atomic():
        entry.kind, entry.channel, entry.subject, entry.body = kind, channel, subject, body
        entry.occurred_at, entry.is_private, entry.updated_at = occurred_at, is_private, timezone.now()
        entry.save()
        if entry.occurred_at > contact.last_activity_at:
            Contact.objects.filter(pk=contact.pk, last_activity_at__lt=entry.occurred_at).update(
                last_activity_at=entry.occurred_at
            )
        after = {"kind": kind, "channel": channel, "subject": subject, "body": body, "is_private": is_private}
        audit_event(
            actor=actor,
            action=AuditEvent.Action.CREATE if creating else AuditEvent.Action.UPDATE,
            object_type="timeline",
            object_id=entry.pk,
            object_label=subject or kind,
            contact_id=contact.pk,
            changes=diff(before, after),
        )
    return entry


def _sees_private(user: User, entry: TimelineEntry) -> bool:
    return user.sees_field("private_notes") or entry.author_id == user.pk


def timeline_entry_delete(*, actor: Actor, entry: TimelineEntry) -> None:
    require(actor, "timeline", perms.DELETE)
    user = actor.user
    if user is not None and (
        not can_see_contact(user, entry.contact) or (entry.is_private and not _sees_private(user, entry))
    ):
        raise NotFound(_("No such timeline entry."))
    if entry.kind == TimelineEntry.Kind.SYSTEM:
        raise PermissionDenied(_("Change records on the timeline cannot be deleted."))
    audit_event(
        actor=actor,
        action=AuditEvent.Action.DELETE,
        object_type="timeline",
        object_id=entry.pk,
        object_label=entry.subject or entry.kind,
        contact_id=entry.contact_id,
        changes={"subject": [entry.subject, None], "body": [entry.body, None]},
    )
    entry.delete()


# --- many contacts at once (the event worker) ----------------------------------------------


# An unsaved contact with its cleaned emails, phones and external ids.
ContactDraft = tuple[Contact, list[dict[str, Any]], list[dict[str, Any]], list[tuple[str, str]]]


class ContactsBulk:
    """``contact_create``, and the kind of ``contact_update`` that only adds emails, phones and
    external ids, for many contacts in a few multi-row statements: the event worker creates and
    extends contacts by the dozen per request. Same validation and the same rows as the
    one-at-a-time services — contact, emails, phones, external ids, search keys, audit log,
    timeline, webhooks — where ``contact_update`` would delete and re-insert the identity rows,
    this only inserts the new ones (same content). Not for tags, companies or custom values."""

    def __init__(self, actor: Actor) -> None:
        require(actor, "contact", perms.CREATE)
        require(actor, "contact", perms.EDIT)
        self.actor = actor
        self.stage = LifecycleStage.objects.filter(is_active=True).order_by("position").first()
        self.custom, self.custom_errors = clean_custom_values(CustomField.Entity.CONTACT, {}, None, creating=True)

    def draft(self, data: dict[str, Any]) -> ContactDraft:
        """Validate ``data`` as ``contact_create`` does (raising InvalidInput); returns the unsaved
        contact with its cleaned emails, phones and external ids. Writes nothing."""
        unsupported = {"tags", "companies", "social_profiles", "custom"} & set(data)
        if unsupported:
            raise ValueError(f"ContactsBulk does not write {sorted(unsupported)}")
        _check_sensitive(self.actor, data)
        errors: dict[str, list[str]] = {}
        cleaned = _clean_contact(data, errors)
        emails = _clean_emails(data["emails"], errors) if "emails" in data else []
        phones = _clean_phones(data["phones"], errors) if "phones" in data else []
        external_ids = (
            _clean_pairs(data["external_ids"], "system", "value", errors, "external_ids")
            if "external_ids" in data
            else []
        )
        errors.update(self.custom_errors)
        _name_or_identity(cleaned, emails, phones, external_ids, errors)
        if "lifecycle_stage" not in cleaned:
            cleaned["lifecycle_stage"] = self.stage
        if "source" not in cleaned:
            cleaned["source"] = Source.API if self.actor.via == "api" else Source.OTHER
        user = self.actor.user
        if "owner" not in cleaned and user is not None and user.role.record_scope != perms.SCOPE_ALL:
            cleaned["owner"] = user
        if errors:
            raise InvalidInput(errors)
        now = timezone.now()
        contact = Contact(created_at=now)
        _apply_names(contact, cleaned, True)
        for key, value in cleaned.items():
            if key not in NAME_FIELDS:
                setattr(contact, key, value)
        contact.custom = dict(self.custom)
        contact.updated_at = now
        contact.email = next((e["email"] for e in emails if e["is_primary"]), "")
        contact.phone = next((p["e164"] for p in phones if p["is_primary"]), "")
        return contact, emails, phones, external_ids

    def create(self, items: Sequence[dict[str, Any] | ContactDraft]) -> list[int]:
        """Create a contact from each of ``items`` (``contact_create`` data, or what ``draft``
        made of it); returns their ids in order. Raises InvalidInput (nothing written then) if
        any item is not valid."""
        # Raw multi-row inserts (ids allocated up front, values adapted as the ORM would): the
        # ORM's bulk_create spends more time preparing 40 columns than SQL takes.
        drafts = [item if isinstance(item, tuple) else self.draft(item) for item in items]
        if not drafts:
            return []
        ids = allocate_ids(Contact, len(drafts))
        attnames = ["id", *(f.attname for f in Contact._meta.concrete_fields if not f.primary_key)]
        rows: list[list[Any]] = []
        emails: list[tuple[Any, ...]] = []
        phones: list[tuple[Any, ...]] = []
        externals: list[tuple[Any, ...]] = []
        keys: list[tuple[int, str]] = []
        audits: list[tuple[Any, ...]] = []
        actor = self.actor
        now = timezone.now()
        for cid, (contact, contact_emails, contact_phones, pairs) in zip(ids, drafts, strict=True):
            contact.pk = cid
            rows.append([getattr(contact, a) for a in attnames])
            emails += [(cid, e["email"], e["label"], e["is_primary"]) for e in contact_emails]
            phones += [(cid, p["e164"], p["raw"], p["kind"], p["label"], p["is_primary"]) for p in contact_phones]
            externals += [(cid, s, v) for s, v in pairs]
            contact_keys = {*name_keys(contact.full_name), *(email_key(e["email"]) for e in contact_emails)}
            contact_keys.update(phone_key(p["e164"]) for p in contact_phones)
            keys += [(cid, k) for k in contact_keys if k]
            related = {
                "emails": [e["email"] for e in contact_emails],
                "phones": [p["e164"] for p in contact_phones],
                "tags": [],
                "companies": [],
                "external_ids": sorted(str(ExternalId(system=s, value=v)) for s, v in pairs),
                "social_profiles": [],
            }
            changes = jsonable(diff({}, contact_snapshot(contact, related)))
            audits.append(
                (now, actor.user.pk if actor.user else None, actor.label, actor.via, AuditEvent.Action.CREATE,
                 "contact", str(cid), (contact.full_name or anonymous_label(cid))[:254], cid, changes, actor.ip,
                 actor.user_agent)
            )  # fmt: skip
        Table(Contact, attnames).insert(rows)
        Table(ContactEmail, ["contact_id", "email", "label", "is_primary"]).insert(emails)
        Table(ContactPhone, ["contact_id", "e164", "raw", "kind", "label", "is_primary"]).insert(phones)
        Table(ExternalId, ["contact_id", "system", "value"]).insert(externals)
        Table(SearchKey, ["contact_id", "key"]).insert(keys)
        audit_columns = ["at", "actor_id", "actor_label", "via", "action", "object_type", "object_id",
                         "object_label", "contact_id", "changes", "ip_address", "user_agent"]  # fmt: skip
        Table(AuditEvent, audit_columns).insert(audits)
        contacts_changed(created=ids)  # as _contact_save
        return ids

    def add_identifiers(self, additions: dict[int, dict[str, list[Any]]]) -> None:
        """Add to existing contacts identifiers nobody has: ``additions`` maps a contact id to
        {"emails": [email…], "phones": [raw phone…], "external_ids": [(system, value)…]}, each
        already known to be free. A contact without a primary email (phone) gets the first new
        one as primary, as ``contact_update`` with the list extended would. Raises NotFound if a
        contact is gone, InvalidInput for a value that does not normalise."""
        if not additions:
            return
        ids = sorted(additions)
        contacts = {c.pk: c for c in Contact.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
        if len(contacts) != len(ids):
            raise NotFound(_("No such contact."))
        before = self._identities(ids)
        errors: dict[str, list[str]] = {}
        emails, phones, externals = [], [], []
        now = timezone.now()
        for cid in ids:
            add = additions[cid]
            contact = contacts[cid]
            has_email, has_phone = bool(before[cid]["emails"]), bool(before[cid]["phones"])
            for e in _clean_emails([{"email": e} for e in add.get("emails", ())], errors):
                e["is_primary"] = not has_email
                has_email = True
                emails.append(ContactEmail(contact_id=cid, **e))
                contact.email = contact.email if not e["is_primary"] else e["email"]
            for p in _clean_phones([{"phone": p} for p in add.get("phones", ())], errors):
                p["is_primary"] = not has_phone
                has_phone = True
                phones.append(ContactPhone(contact_id=cid, **p))
                contact.phone = contact.phone if not p["is_primary"] else p["e164"]
            pairs = _clean_pairs(
                [{"system": s, "value": v} for s, v in add.get("external_ids", ())],
                "system",
                "value",
                errors,
                "external_ids",
            )
            externals += [ExternalId(contact_id=cid, system=s, value=v) for s, v in pairs]
            contact.updated_at = now
        if errors:
            raise InvalidInput(errors)
        ContactEmail.objects.bulk_create(emails)
        ContactPhone.objects.bulk_create(phones)
        ExternalId.objects.bulk_create(externals)
        Contact.objects.bulk_update(list(contacts.values()), ["email", "phone", "updated_at"])
        search_index(ids)
        after = self._identities(ids)
        changes = {cid: diff(before[cid], after[cid]) for cid in ids}
        changed = [cid for cid in ids if changes[cid]]
        audit_events_bulk(
            actor=self.actor,
            action=AuditEvent.Action.UPDATE,
            object_type="contact",
            rows=[(cid, contacts[cid].full_name or anonymous_label(cid), cid, changes[cid]) for cid in changed],
        )
        sensitive = set(perms.SENSITIVE_STANDARD_FIELDS) | {
            f"custom.{key}"
            for key in CustomField.objects.filter(entity="contact", is_sensitive=True).values_list("key", flat=True)
        }
        entries = []
        for cid in changed:  # as _timeline_change writes them
            shown = sorted(k for k in changes[cid] if k not in sensitive)
            entries.append(
                TimelineEntry(
                    contact_id=cid,
                    kind=TimelineEntry.Kind.SYSTEM,
                    author=self.actor.user,
                    subject=", ".join(shown)[:200],
                    data={"fields": shown, "protected_fields": len(changes[cid]) - len(shown), "via": self.actor.via},
                )
            )
        TimelineEntry.objects.bulk_create(entries)
        # Segments hear the reasons of the whole batch for each changed contact.
        why = reasons_for_changes({k for cid in changed for k in changes[cid]})
        contacts_changed(updated={cid: list(changes[cid]) for cid in changed}, reasons=dict.fromkeys(changed, why))

    @staticmethod
    def _identities(ids: list[int]) -> dict[int, dict[str, list[str]]]:
        """The identity lists of ``contact_snapshot`` for these contacts, in a query each."""
        out: dict[int, dict[str, list[str]]] = {cid: {"emails": [], "phones": [], "external_ids": []} for cid in ids}
        for cid, email in ContactEmail.objects.filter(contact_id__in=ids).values_list("contact_id", "email"):
            out[cid]["emails"].append(email)
        for cid, e164 in ContactPhone.objects.filter(contact_id__in=ids).values_list("contact_id", "e164"):
            out[cid]["phones"].append(e164)
        for x in ExternalId.objects.filter(contact_id__in=ids):
            out[x.contact_id]["external_ids"].append(str(x))
        for lists in out.values():
            lists["external_ids"].sort()
        return out
