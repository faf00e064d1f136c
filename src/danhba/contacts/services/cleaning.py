"""Input of contact writes: what a field may hold, normalised and validated (errors by field).

Shared by the one-contact services and the bulk writer; writes nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
    for key, value in data.items():
        cleaner = _CLEANERS.get(key)
        if cleaner is None:
            if key not in _CONTACT_FIELDS:
                errors[key] = [_("unknown field")]
            continue
        cleaned = cleaner(key, value, errors)
        if cleaned is not _LEFT_OUT:
            out[key] = cleaned
    return out


# A field's cleaner returns the value to write, or _LEFT_OUT to write nothing (an error was
# recorded for it). Some return a value beside their error, as the forms show it back.
_LEFT_OUT = object()
_CONTACT_FIELDS = frozenset(CONTACT_FIELDS)
Cleaner = Callable[[str, Any, dict[str, list[str]]], Any]


def _too_long(key: str, text: str, errors: dict[str, list[str]]) -> None:
    if len(text) > MAX_LENGTHS.get(key, 10_000):
        errors[key] = [_("at most %(n)s characters") % {"n": MAX_LENGTHS[key]}]


def _text(key: str, value: Any, errors: dict[str, list[str]]) -> str:
    text = clean_text(value)
    _too_long(key, text, errors)
    return text


def _long_text(key: str, value: Any, errors: dict[str, list[str]]) -> str:
    return clean_long_text(value)


def _name(key: str, value: Any, errors: dict[str, list[str]]) -> str:
    text = name_case(value)
    _too_long(key, text, errors)
    return text


def _one_of(choices: tuple[Any, ...], shown: list[str], *, keep_refused: bool) -> Cleaner:
    def clean(key: str, value: Any, errors: dict[str, list[str]]) -> Any:
        if value not in choices:
            errors[key] = [_("must be one of %(choices)s") % {"choices": ", ".join(shown)}]
            return value if keep_refused else _LEFT_OUT
        return value

    return clean


def _gender(key: str, value: Any, errors: dict[str, list[str]]) -> Any:
    return _gender_choice(key, value or "", errors)


_gender_choice = _one_of(_GENDERS, Gender.values, keep_refused=True)


def _province(key: str, value: Any, errors: dict[str, list[str]]) -> Any:
    raw = clean_text(value)
    province = province_key(raw) if raw else ""
    if province is None:
        errors[key] = [_("unknown province '%(value)s'") % {"value": raw}]
        return _LEFT_OUT
    return province


def _country(key: str, value: Any, errors: dict[str, list[str]]) -> str:
    country = clean_text(value).upper() or "VN"
    if len(country) != 2 or not country.isalpha():
        errors[key] = [_("must be a two-letter country code")]
    return country


def _birthday(key: str, value: Any, errors: dict[str, list[str]]) -> Any:
    if value in (None, ""):
        return None
    try:
        birthday = parse_date(value)
    except NormalizationError as exc:
        errors[key] = [str(exc)]
        return _LEFT_OUT
    if birthday > timezone.localdate() or birthday.year < 1900:
        errors[key] = [_("must be a past date after 1900")]
    return birthday


def _lifecycle_stage(key: str, value: Any, errors: dict[str, list[str]]) -> LifecycleStage | None:
    stage = LifecycleStage.objects.filter(key=value, is_active=True).first()
    if stage is None:
        errors[key] = [_("unknown lifecycle stage '%(value)s'") % {"value": value}]
    return stage


def _buyer_role(key: str, value: Any, errors: dict[str, list[str]]) -> BuyerRole | None:
    if value in (None, ""):
        return None
    role = BuyerRole.objects.filter(key=value, is_active=True).first()
    if role is None:
        errors[key] = [_("unknown buyer role '%(value)s'") % {"value": value}]
    return role


def _owner(key: str, value: Any, errors: dict[str, list[str]]) -> User | None:
    if value in (None, ""):
        return None
    owner = User.objects.filter(pk=value, is_active=True).first() if str(value).isdigit() else None
    if owner is None:
        errors[key] = [_("no such active user")]
    return owner


_CLEANERS: dict[str, Cleaner] = {
    **dict.fromkeys(TEXT_FIELDS, _text),
    **dict.fromkeys(LONG_TEXT_FIELDS, _long_text),
    **dict.fromkeys(NAME_FIELDS, _name),
    "name_order": _one_of(_NAME_ORDERS, NameOrder.values, keep_refused=False),
    "province": _province,
    "country": _country,
    "birthday": _birthday,
    "gender": _gender,
    "source": _one_of(_SOURCES, Source.values, keep_refused=True),
    "lifecycle_stage": _lifecycle_stage,
    "buyer_role": _buyer_role,
    "owner": _owner,
}


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
