"""What a web form may ask and how a visitor's answers are read: pure helpers, no writes.

A question maps to one *target*: a contact field ("email", "phone", "full_name", …), a custom
field ("custom:<key>") or "message" (free text kept with the submission and its event). The
visitor's answers are cleaned by the contacts app's own cleaners (``core.normalize`` beneath):
phones in every format people type, emails, names with or without diacritics — the same rules
as the UI, the API and imports. Errors come out in the active language (the form's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from danhba.contacts.custom_fields import clean_custom_values
from danhba.contacts.models import CustomField, Gender
from danhba.contacts.services.cleaning import clean_contact, clean_emails, clean_phones
from danhba.core.normalize import clean_long_text, clean_text
from danhba.core.vn import PROVINCES

# target → (label shown in the builder, HTML input kind)
STANDARD_TARGETS: dict[str, tuple[Any, str]] = {
    "full_name": (gettext_lazy("Full name"), "text"),
    "family_name": (gettext_lazy("Family name"), "text"),
    "given_name": (gettext_lazy("Given name"), "text"),
    "email": (gettext_lazy("Email"), "email"),
    "phone": (gettext_lazy("Phone"), "tel"),
    "company": (gettext_lazy("Company"), "text"),
    "job_title": (gettext_lazy("Job title"), "text"),
    "occupation": (gettext_lazy("Occupation"), "text"),
    "province": (gettext_lazy("Province / city"), "province"),
    "street": (gettext_lazy("Address"), "text"),
    "birthday": (gettext_lazy("Birthday"), "date"),
    "gender": (gettext_lazy("Gender"), "gender"),
    "message": (gettext_lazy("Message"), "textarea"),
}
CUSTOM_PREFIX = "custom:"
IDENTITY_TARGETS = ("email", "phone")
# Fields a visitor may fill that the contact writer takes as they are (after cleaning).
PLAIN_TARGETS = ("job_title", "occupation", "province", "street", "birthday", "gender")
MAX_QUESTIONS = 30
MAX_CONSENTS = 5
MAX_ORIGINS = 20
MESSAGE_MAX = 5000
HONEYPOT = "website"  # a name bots love to fill; hidden from people
TOKEN_FIELD = "_t"  # the signed render token
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
_CUSTOM_KINDS = {
    CustomField.Type.LONG_TEXT: "textarea",
    CustomField.Type.NUMBER: "number",
    CustomField.Type.DECIMAL: "text",
    CustomField.Type.DATE: "date",
    CustomField.Type.BOOLEAN: "checkbox",
    CustomField.Type.CHOICE: "choice",
    CustomField.Type.MULTI_CHOICE: "choice",
    CustomField.Type.URL: "url",
    CustomField.Type.EMAIL: "email",
    CustomField.Type.PHONE: "tel",
}


def custom_fields() -> dict[str, CustomField]:
    return {f.key: f for f in CustomField.objects.filter(entity=CustomField.Entity.CONTACT, is_active=True)}


def target_choices() -> list[tuple[str, str]]:
    """Every target the builder offers: the standard fields, then the active custom fields."""
    out = [(key, str(label)) for key, (label, _kind) in STANDARD_TARGETS.items()]
    out += [(CUSTOM_PREFIX + key, f"{f.label} ({_('custom field')})") for key, f in custom_fields().items()]
    return out


@dataclass
class Widget:
    """How one question renders: its input kind and, for a choice, the options."""

    name: str
    label: str
    required: bool
    kind: str
    help: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    multiple: bool = False


def widget(question: dict[str, Any], customs: dict[str, CustomField]) -> Widget:
    target = question["target"]
    w = Widget(name=target, label=question.get("label") or target, required=bool(question.get("required")),
               kind="text", help=question.get("help") or "")  # fmt: skip
    if target.startswith(CUSTOM_PREFIX):
        custom = customs.get(target[len(CUSTOM_PREFIX) :])
        if custom is not None:
            w.kind = _CUSTOM_KINDS.get(CustomField.Type(custom.type), "text")
            w.options = [(str(o), str(o)) for o in custom.choices or []] if w.kind == "choice" else []
            w.multiple = custom.type == CustomField.Type.MULTI_CHOICE
        return w
    w.kind = STANDARD_TARGETS[target][1] if target in STANDARD_TARGETS else "text"
    if w.kind == "province":
        w.kind, w.options = "choice", [(key, name) for key, name in PROVINCES]
    elif w.kind == "gender":
        w.kind, w.options = "choice", [(str(v), str(label)) for v, label in Gender.choices]
    return w


# --- checking a form's definition (the builder and the API) ---------------------------------


def clean_questions(items: Any, key: str, errors: dict[str, list[str]], taken: set[str]) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        errors[key] = [_("must be a list of questions")]
        return []
    known = {t for t, _label in target_choices()}
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items[: MAX_QUESTIONS + 1]):
        if i == MAX_QUESTIONS:
            errors[key] = [_("at most %(n)s questions") % {"n": MAX_QUESTIONS}]
            break
        target = item.get("target") if isinstance(item, dict) else None
        if not isinstance(target, str) or target not in known:
            errors[f"{key}.{i}.target"] = [_("unknown field")]
            continue
        if target in taken:
            errors[f"{key}.{i}.target"] = [_("this field is asked twice")]
            continue
        taken.add(target)
        label = clean_text(item.get("label") or "")[:200] or str(dict(target_choices())[target])
        out.append({"target": target, "label": label, "required": bool(item.get("required")),
                    "help": clean_text(item.get("help") or "")[:300]})  # fmt: skip
    return out


def clean_consents(items: Any, purposes: set[str], errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        errors["consents"] = [_("must be a list of consent checkboxes")]
        return []
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(items[:MAX_CONSENTS]):
        purpose = item.get("purpose") if isinstance(item, dict) else None
        text = clean_long_text(item.get("text") or "") if isinstance(item, dict) else ""
        if purpose not in purposes:
            errors[f"consents.{i}.purpose"] = [_("unknown consent purpose")]
            continue
        if purpose in seen:
            errors[f"consents.{i}.purpose"] = [_("this purpose is asked twice")]
            continue
        if not text or len(text) > 2000:
            errors[f"consents.{i}.text"] = [
                _("the exact wording shown to the visitor is required (at most 2000 characters)")
            ]
            continue
        seen.add(purpose)
        out.append({"purpose": purpose, "text": text, "required": bool(item.get("required"))})
    if isinstance(items, list) and len(items) > MAX_CONSENTS:
        errors["consents"] = [_("at most %(n)s consent checkboxes") % {"n": MAX_CONSENTS}]
    return out


def origin_of(value: str) -> str | None:
    """``https://shop.vn`` from ``https://shop.vn/any/page``; None for what is not an http(s) origin."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def clean_origins(items: Any, errors: dict[str, list[str]]) -> list[str]:
    if isinstance(items, str):
        items = items.split()
    if not isinstance(items, list):
        errors["allowed_origins"] = [_("must be a list of site addresses")]
        return []
    out: list[str] = []
    for item in items[:MAX_ORIGINS]:
        origin = origin_of(item) if isinstance(item, str) else None
        if origin is None:
            errors["allowed_origins"] = [
                _("'%(value)s' is not a site address like https://shop.vn") % {"value": str(item)[:100]}
            ]
            continue
        if origin not in out:
            out.append(origin)
    if len(items) > MAX_ORIGINS:
        errors["allowed_origins"] = [_("at most %(n)s sites") % {"n": MAX_ORIGINS}]
    return out


# --- reading a visitor's answers ------------------------------------------------------------


@dataclass
class Answers:
    """A visitor's answers, cleaned: what the contact gets, the message, the consents ticked."""

    contact: dict[str, Any] = field(default_factory=dict)  # clean_contact keys + custom
    email: str = ""
    phone: str = ""
    phone_raw: str = ""
    company: str = ""
    message: str = ""
    consents: list[dict[str, Any]] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)


def _value(payload: dict[str, Any], name: str) -> Any:
    value = payload.get(name)
    if isinstance(value, list):
        return [clean_text(v) for v in value if isinstance(v, (str, int, float))][:50]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, (str, bool)) else ""


def _empty(value: Any) -> bool:
    return value in (None, "", [], False) or (isinstance(value, str) and not value.strip())


def read_answers(questions: list[dict[str, Any]], consents: list[dict[str, Any]], payload: dict[str, Any]) -> Answers:
    """Clean ``payload`` (form field name → value) for ``questions``; errors by field name."""
    answers = Answers()
    customs = custom_fields()
    for question in questions:
        target = question["target"]
        value = _value(payload, target)
        if _empty(value):
            if question.get("required"):
                answers.errors[target] = [_("This field is required.")]
            continue
        _read_one(target, value, answers, customs)
    ticked = payload.get("consent") or []
    ticked = [ticked] if isinstance(ticked, str) else ticked if isinstance(ticked, list) else []
    for consent in consents:
        if consent["purpose"] in ticked:
            answers.consents.append({"purpose": consent["purpose"], "text": consent["text"]})
        elif consent.get("required"):
            answers.errors[f"consent.{consent['purpose']}"] = [_("Please tick this box to go on.")]
    return answers


def _read_email(value: Any, answers: Answers, errors: dict[str, list[str]]) -> None:
    found = clean_emails([{"email": value}], errors)
    answers.email = found[0]["email"] if found else ""


def _read_phone(value: Any, answers: Answers, errors: dict[str, list[str]]) -> None:
    found = clean_phones([{"phone": value}], errors)
    if found:
        answers.phone, answers.phone_raw = found[0]["e164"], found[0]["raw"]
    elif errors:
        errors.clear()
        errors["phone"] = [_("This is not a phone number we can read.")]


def _read_company(value: Any, answers: Answers, errors: dict[str, list[str]]) -> None:
    answers.company = clean_text(value)[:200]


def _read_message(value: Any, answers: Answers, errors: dict[str, list[str]]) -> None:
    answers.message = clean_long_text(value)[:MESSAGE_MAX]


_READERS = {"email": _read_email, "phone": _read_phone, "company": _read_company, "message": _read_message}


def _read_one(target: str, value: Any, answers: Answers, customs: dict[str, CustomField]) -> None:
    errors: dict[str, list[str]] = {}
    if target in _READERS:
        _READERS[target](value, answers, errors)
    elif target.startswith(CUSTOM_PREFIX):
        key = target[len(CUSTOM_PREFIX) :]
        if key in customs:
            merged, custom_errors = clean_custom_values(CustomField.Entity.CONTACT, {key: value})
            errors.update(custom_errors)
            if key in merged:
                # The contact writer cleans it again: it gets the answer as typed.
                answers.contact.setdefault("custom", {})[key] = value
    else:
        cleaned = clean_contact({target: value}, errors)
        if target in cleaned and not errors:
            answers.contact[target] = value
    if errors:
        answers.errors[target] = [message for messages in errors.values() for message in messages]
