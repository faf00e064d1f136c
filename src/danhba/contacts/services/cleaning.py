"""Input of contact writes: what a field may hold, normalised and validated (errors by field).

Shared by the one-contact services and the bulk writer; writes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.accounts.models import User
from danhba.contacts.keys import company_key, name_key, tag_key
from danhba.contacts.models import (
    BuyerRole,
    Company,
    Contact,
    CustomField,
    Gender,
    LifecycleStage,
    NameOrder,
    Source,
    Tag,
)
from danhba.core.actor import Actor
from danhba.core.errors import PermissionDenied
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


def check_sensitive(actor: Actor, data: dict[str, Any]) -> None:
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


# --- input cleaning -------------------------------------------------------------------------


# The choices' values, read once: ``Choices.values`` builds its list anew at each call, which
# cost the event worker more than the rest of validating a new contact. Tuples: a value sent
# in may be unhashable.
_NAME_ORDERS = tuple(NameOrder.values)
_GENDERS = ("", *Gender.values)
_SOURCES = tuple(Source.values)


def clean_contact(data: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
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
        if data["name_order"] not in _NAME_ORDERS:
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
        if gender not in _GENDERS:
            errors["gender"] = [_("must be one of %(choices)s") % {"choices": ", ".join(Gender.values)}]
        out["gender"] = gender
    if "source" in data:
        if data["source"] not in _SOURCES:
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


def clean_emails(items: Any, errors: dict[str, list[str]]) -> list[dict[str, Any]]:
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


def clean_phones(items: Any, errors: dict[str, list[str]]) -> list[dict[str, Any]]:
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


def clean_tags(names: Any, errors: dict[str, list[str]]) -> list[str]:
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


def clean_companies(
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


def check_new_tags(actor: Actor, names: list[str], errors: dict[str, list[str]], field: str = "tags") -> None:
    """Tags that do not exist yet are created on the fly only for roles that may create tags."""
    if not names or actor.user is None or actor.user.can("tag", perms.CREATE):
        return
    known = set(Tag.objects.filter(name_key__in=[tag_key(n) for n in names]).values_list("name_key", flat=True))
    unknown = [n for n in names if tag_key(n) not in known]
    if unknown:
        errors[field] = [_("unknown tags: %(names)s (your role cannot create tags)") % {"names": ", ".join(unknown)}]


def clean_pairs(
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


def name_or_identity(
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


def apply_names(contact: Contact, cleaned: dict[str, Any], creating: bool) -> None:
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
