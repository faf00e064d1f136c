"""The audit log as people read it: field names and values in the reader's language.

An audit row stores keys and codes (``{"kind": [null, "call"]}``, ``{"purpose": [null,
"email_marketing"]}``) so that it stays proof whatever the language; this module names them for
the page: "Loại → Cuộc gọi", "Mục đích → Tiếp thị qua email", the stage's and purpose's own names,
dates and numbers in the language's format. Rows come from every app, so models of the apps
above contacts are looked up by name (``apps.get_model``), never imported.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Q
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from danhba.accounts.models import Role, User
from danhba.audit.display import MASK, AuditType, Change, audit_type, key_label
from danhba.contacts.models import BuyerRole, Company, Contact, CustomField, LifecycleStage, Tag, TimelineEntry
from danhba.core import formatting


def _export_label(what: Any) -> Callable[[Any], str | None]:
    """An export row's label ("contacts CSV export", as stored) in the reader's language."""

    def label(event: Any) -> str | None:
        fmt = (event.changes or {}).get("format")
        fmt = fmt[1] if isinstance(fmt, list) and len(fmt) == 2 else fmt
        if event.action != "export" or not isinstance(fmt, str):
            return None
        return _("%(what)s: %(format)s export") % {"what": what, "format": fmt.upper()}

    return label


def _demo_label(event: Any) -> str | None:
    contacts = (event.changes or {}).get("contacts")
    count = contacts[1] if isinstance(contacts, list) and len(contacts) == 2 else contacts
    if not isinstance(count, int):
        return None
    return _("Demo dataset: %(n)s contacts") % {"n": formatting.number(count)}


# The object types contacts writes audit rows for, with the names of their keys that are not
# model fields; every other app adds its own in its AppConfig.ready() (audit.display.AUDIT_TYPES).
CONTACT_TYPES: dict[str, AuditType] = {
    "contact": AuditType(
        model="contacts.Contact",
        keys={
            "emails": gettext_lazy("emails"),
            "phones": gettext_lazy("phones"),
            "tags": gettext_lazy("tags"),
            "tags added": gettext_lazy("tags added"),
            "tags removed": gettext_lazy("tags removed"),
            "companies": gettext_lazy("companies"),
            "external_ids": gettext_lazy("external ids"),
            "social_profiles": gettext_lazy("social profiles"),
            "owner": gettext_lazy("owner"),
            "export_job": gettext_lazy("export"),
            "format": gettext_lazy("format"),
            "filters": gettext_lazy("filters"),
            "deleted": gettext_lazy("deleted"),
            "restored": gettext_lazy("restored"),
            "kept": gettext_lazy("kept"),
            "contacts": gettext_lazy("contacts"),
            "tag_links": gettext_lazy("tag links"),
            "company_links": gettext_lazy("company links"),
            "timeline_entries": gettext_lazy("timeline entries"),
            "search_keys": gettext_lazy("search keys"),
        },
        label=_export_label(gettext_lazy("Contacts")),
    ),
    "company": AuditType(model="contacts.Company", label=_export_label(gettext_lazy("Companies"))),
    "tag": AuditType(model="contacts.Tag"),
    "customfield": AuditType(model="contacts.CustomField"),
    "timeline": AuditType(model="contacts.TimelineEntry"),
    "lifecycle_stage": AuditType(model="contacts.LifecycleStage"),
    "buyer_role": AuditType(model="contacts.BuyerRole"),
    # core (below every app) writes the demo's row: contacts names it.
    "demo": AuditType(label=_demo_label),
}
# accounts sits below contacts and the audit app and adds nothing itself: its types are here.
ACCOUNT_TYPES: dict[str, AuditType] = {
    "user": AuditType(model="accounts.User", keys={"password": gettext_lazy("password")}),
    "team": AuditType(model="accounts.Team", keys={"users": gettext_lazy("users")}),
    "role": AuditType(model="accounts.Role"),
    "apikey": AuditType(model="accounts.ApiKey", keys={"disabled_at": gettext_lazy("disabled")}),
    "login_lock": AuditType(keys={"ip": gettext_lazy("IP address")}),
}
# Values that are ids, written as they are (no thousands separator).
ID_KEYS = {"import", "export_job", "id", "resent"}
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _model(object_type: str) -> type[models.Model] | None:
    name = audit_type(object_type).model
    if not name:
        return None
    try:
        return apps.get_model(name)
    except LookupError:
        return None


def _model_field(model: type[models.Model] | None, key: str) -> Any:
    if model is None:
        return None
    try:
        return model._meta.get_field(key)
    except FieldDoesNotExist:
        return None


def _named(pairs: Iterable[tuple[Any, Any]]) -> dict[str, str]:
    return {str(k): str(v) for k, v in pairs}


class AuditVocabulary:
    """Names for the fields and values of a page of audit rows, looked up once per page."""

    def __init__(self, events: Iterable[Any]) -> None:
        events = list(events)
        self.custom = {cf.permission_key: cf.label for cf in CustomField.objects.all()}
        self.stages = {s.key: s.label for s in LifecycleStage.objects.all()}
        self.buyer_roles = {r.key: r.label for r in BuyerRole.objects.all()}
        purpose_model = _model("consent_purpose")
        purposes: list[Any] = list(purpose_model._default_manager.all()) if purpose_model else []
        # By key (the UI, the API) and by id (imports wrote ids before they wrote keys).
        self.purposes = {p.key: p.label for p in purposes} | {str(p.pk): p.label for p in purposes}
        self.roles = _named(Role.objects.values_list("key", "name"))
        self.consents = self._consent_records(events)
        ids = self._ids(events, ("tags", "companies"))
        self.tag_names = _named(Tag.objects.filter(pk__in=ids["tags"]).values_list("pk", "name"))
        self.company_names = _named(Company.objects.filter(pk__in=ids["companies"]).values_list("pk", "name"))

    @staticmethod
    def _ids(events: list[Any], keys: tuple[str, ...]) -> dict[str, set[int]]:
        """Row ids that imports write for related rows (tags and companies by id)."""
        found: dict[str, set[int]] = {k: set() for k in keys}
        for event in events:
            for key in keys:
                pair = (event.changes or {}).get(key)
                values = pair[1] if isinstance(pair, list) and len(pair) == 2 else None
                if isinstance(values, list):
                    found[key] |= {v for v in values if isinstance(v, int) and not isinstance(v, bool)}
        return found

    @staticmethod
    def _consent_records(events: list[Any]) -> dict[str, Any]:
        record_model = _model("consent")
        ids = [e.object_id for e in events if e.object_type == "consent" and str(e.object_id).isdigit()]
        if record_model is None or not ids:
            return {}
        return {str(r.pk): r for r in record_model._default_manager.filter(pk__in=ids).select_related("purpose")}

    # --- names ----------------------------------------------------------------------------------

    def field(self, object_type: str, key: str) -> str:
        """The field's name as its form or page calls it; the key itself when nothing names it."""
        if key in self.custom:
            return self.custom[key]
        label = key_label(object_type, key)
        if label is None:
            verbose = getattr(_model_field(_model(object_type), key), "verbose_name", None)
            # Django makes "first name" of an unnamed field first_name: English, not translated.
            label = verbose if isinstance(verbose, Promise) else None
        if label is None:
            verbose = getattr(_model_field(_model("contact"), key), "verbose_name", None)
            label = verbose if isinstance(verbose, Promise) else key.replace("_", " ")
        return str(label)

    def label(self, event: Any, stored: str) -> str:
        """What the row is about: a consent statement as "purpose: status", a timeline entry
        without a subject by its kind."""
        if event.object_type == "consent":
            record = self.consents.get(str(event.object_id))
            if record is not None:
                return _("%(purpose)s: %(status)s") % {
                    "purpose": record.purpose.label,
                    "status": record.get_status_display(),
                }
        if event.object_type == "timeline" and stored in TimelineEntry.Kind.values:
            return str(TimelineEntry.Kind(stored).label)
        described = audit_type(event.object_type).label
        return (described(event) if described else None) or stored

    def stored_changes(self, event: Any) -> dict[str, Any]:
        """The row's changes; a consent statement names its purpose, also in rows written before
        imports recorded it."""
        changes = dict(event.changes or {})
        record = self.consents.get(str(event.object_id)) if event.object_type == "consent" else None
        if record is not None and "purpose" not in changes:
            changes = {"purpose": [None, record.purpose.key], **changes}
        return changes

    # --- values ---------------------------------------------------------------------------------

    def value(self, object_type: str, key: str, value: Any) -> str:
        """A before/after value in one line, in the reader's words and formats."""
        if value is None or value == "" or value == [] or value == {}:
            return "—"
        if value == MASK:
            return MASK
        if isinstance(value, bool):
            return _("yes") if value else _("no")
        namer = audit_type(object_type).values.get(key)
        if namer is not None and isinstance(value, dict):
            return namer(value)
        if isinstance(value, list):
            return ", ".join(self.value(object_type, key, v) for v in value)
        if isinstance(value, dict):
            return "; ".join(f"{k}: {self.value(object_type, str(k), v)}" for k, v in value.items())
        named = self._named_value(object_type, key, value)
        if named is not None:
            return named
        if isinstance(value, int | float):
            return str(value) if key in ID_KEYS or key.endswith("_id") else formatting.number(value)
        return self._text(str(value))

    def _named_value(self, object_type: str, key: str, value: Any) -> str | None:
        """A code named by a choice list, a configurable list or a related row, or None."""
        text = str(value)
        lookups: dict[str, dict[str, str]] = {
            "lifecycle_stage": self.stages,
            "buyer_role": self.buyer_roles,
            "purpose": self.purposes,
            "tags": self.tag_names if isinstance(value, int) else {},
            "companies": self.company_names if isinstance(value, int) else {},
            "role": self.roles if object_type == "user" else {},
        }
        if text in lookups.get(key, {}):
            return lookups[key][text]
        choices = getattr(_model_field(_model(object_type), key), "flatchoices", None)
        if not choices and object_type in ("contact", "import"):
            choices = getattr(_model_field(_model("contact"), key), "flatchoices", None)
        if choices:
            return next((str(label) for code, label in choices if str(code) == text), None)
        return None

    @staticmethod
    def _text(text: str) -> str:
        if _ISO_DAY.match(text) or _ISO_MOMENT.match(text):
            when = formatting.parse_moment(text)
            if when is not None:
                return formatting.moment(when) if isinstance(when, dt.datetime) else formatting.day(when)
        return text

    def changes(self, object_type: str, pairs: Iterable[tuple[str, Any, Any]]) -> list[Change]:
        show = self.value
        return [
            Change(self.field(object_type, key), show(object_type, key, before), show(object_type, key, after))
            for key, before, after in pairs
        ]


def audit_visible_rows(user: User) -> Q | None:
    """The audit rows a reader may see: none about contacts outside their records."""
    from danhba.contacts.selectors import visibility_q

    vis = visibility_q(user)
    if vis is None:
        return None
    return Q(contact_id__isnull=True) | Q(contact_id__in=Contact.objects.filter(vis).values("pk"))


__all__ = ["ACCOUNT_TYPES", "CONTACT_TYPES", "MASK", "AuditVocabulary", "Change", "audit_visible_rows"]
