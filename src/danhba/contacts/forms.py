"""Forms of the contact and company pages.

They only parse what a person typed into the plain dicts the services take. The validation that
matters (normalising, uniqueness, custom field types, permissions) lives in the services; its
errors come back onto the form through :meth:`ServiceForm.apply_errors`, next to the field they
name (``emails.0`` next to the first email row, ``custom.size`` next to that custom field).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from danhba.accounts.models import User
from danhba.contacts import selectors
from danhba.contacts.extensions import CONTACT_LIST_FILTERS
from danhba.contacts.models import (
    Contact,
    CustomField,
    Gender,
    NameOrder,
    SocialProfile,
    Source,
    TimelineEntry,
)
from danhba.core.normalize import clean_text
from danhba.core.vn import PROVINCES

BLANK = [("", "—")]
# <input type="date"> takes and sends ISO dates whatever the page's language (the browser shows
# them the reader's way); the format modules' first input format would be dd/mm/yyyy.
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
TEXTAREA = forms.Textarea(attrs={"rows": 3})


@dataclass
class Row:
    """One row of a repeated input (an email, a phone, a company link…) and its errors."""

    values: dict[str, str]
    errors: list[str] = field(default_factory=list)


class ServiceForm(forms.Form):
    """A form that drops fields the user may not see and shows errors raised by a service."""

    # Repeated inputs: collection key → the input names of one row.
    ROWS: dict[str, tuple[str, ...]] = {}

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        initial: dict[str, Any] | None = None,
        hidden: Iterable[str] = (),
        initial_rows: dict[str, list[dict[str, str]]] | None = None,
        prefix: str | None = None,
    ) -> None:
        super().__init__(data, initial=initial, prefix=prefix)
        self.row_errors: dict[str, list[str]] = {}
        self.initial_rows = initial_rows or {}
        hidden = set(hidden)
        for name in list(self.fields):
            if name in hidden:
                del self.fields[name]

    # --- repeated rows ----------------------------------------------------------------------

    def posted_rows(self, key: str) -> list[dict[str, str]]:
        """The non-empty rows typed for ``key``, in order: what is sent to the service, so the
        service's ``emails.0`` is the first of these."""
        if self.data is None or not hasattr(self.data, "getlist"):
            return []
        names = self.ROWS[key]
        columns = [self.data.getlist(self.add_prefix(n)) for n in names]
        count = max((len(c) for c in columns), default=0)
        rows = []
        for i in range(count):
            row = {n: clean_text(col[i]) if i < len(col) else "" for n, col in zip(names, columns, strict=True)}
            if any(row.values()):
                rows.append(row)
        return rows

    def rows(self, key: str) -> list[Row]:
        """Rows to render: what was posted (with its errors) or the saved values, plus a blank row."""
        values = self.posted_rows(key) if self.is_bound else self.initial_rows.get(key, [])
        rows = [Row(v, self.row_errors.get(f"{key}.{i}", [])) for i, v in enumerate(values)]
        rows.append(Row(dict.fromkeys(self.ROWS[key], "")))
        return rows

    def collection_errors(self, key: str) -> list[str]:
        return self.row_errors.get(key, [])

    # --- errors from services ---------------------------------------------------------------

    def apply_errors(self, details: Mapping[str, Any]) -> None:
        if not hasattr(self, "cleaned_data"):
            self.cleaned_data = {}
        for key, messages in details.items():
            if not isinstance(messages, (list, tuple)):
                continue  # e.g. ``contact_id`` of a conflict: shown by the view, not an error text
            texts = [str(m) for m in messages]
            if key in self.fields:
                self.add_error(key, texts)
            elif key.split(".")[0] in self.ROWS:
                self.row_errors[key] = texts
            else:
                self.add_error(None, [f"{key}: {t}" for t in texts])

    def field_values(self, names: Iterable[str]) -> dict[str, Any]:
        return {n: self.cleaned_data.get(n) for n in names if n in self.fields}


def _choice(choices: Any, label: Any, blank: bool = True) -> forms.ChoiceField:
    return forms.ChoiceField(label=label, choices=[*BLANK, *choices] if blank else list(choices), required=False)


def _tags_list(text: str) -> list[str]:
    return [t for t in (clean_text(x) for x in (text or "").split(",")) if t]


# --- custom fields --------------------------------------------------------------------------


def custom_form_field(cf: CustomField) -> forms.Field:
    """The input for one admin-defined field. Types are checked by the service, not here, so
    every mistake comes back with the service's wording."""
    label = f"{cf.label} *" if cf.required else cf.label
    common: dict[str, Any] = {"label": label, "required": False, "help_text": cf.help_text}
    T = CustomField.Type
    if cf.type == T.LONG_TEXT:
        return forms.CharField(widget=TEXTAREA, **common)
    if cf.type in (T.NUMBER, T.DECIMAL):
        step = "1" if cf.type == T.NUMBER else "any"
        return forms.CharField(widget=forms.NumberInput(attrs={"step": step}), **common)
    if cf.type == T.DATE:
        return forms.CharField(widget=DATE_INPUT, **common)
    if cf.type == T.DATETIME:
        return forms.CharField(widget=DATETIME_INPUT, **common)
    if cf.type == T.BOOLEAN:
        return forms.ChoiceField(choices=[*BLANK, ("true", _("Yes")), ("false", _("No"))], **common)
    if cf.type == T.CHOICE:
        return forms.ChoiceField(choices=[*BLANK, *((c, c) for c in cf.choices)], **common)
    if cf.type == T.MULTI_CHOICE:
        return forms.MultipleChoiceField(
            choices=[(c, c) for c in cf.choices], widget=forms.CheckboxSelectMultiple, **common
        )
    if cf.type == T.URL:
        return forms.CharField(widget=forms.URLInput, **common)
    if cf.type == T.EMAIL:
        return forms.CharField(widget=forms.EmailInput, **common)
    if cf.type == T.PHONE:
        return forms.CharField(widget=forms.TextInput(attrs={"type": "tel"}), **common)
    return forms.CharField(max_length=255, **common)


def custom_initial(cf: CustomField, value: Any) -> Any:
    if value is None:
        return None
    if cf.type == CustomField.Type.BOOLEAN:
        return "true" if value else "false"
    if cf.type == CustomField.Type.DATETIME:
        try:
            return timezone.localtime(dt.datetime.fromisoformat(str(value))).strftime("%Y-%m-%dT%H:%M")
        except ValueError:
            return value
    return value


def add_custom_fields(form: ServiceForm, fields: Iterable[CustomField], values: Mapping[str, Any]) -> list[str]:
    names = []
    for cf in fields:
        name = f"custom.{cf.key}"
        form.fields[name] = custom_form_field(cf)
        form.initial[name] = custom_initial(cf, values.get(cf.key))
        names.append(name)
    return names


def custom_data(form: ServiceForm, names: Iterable[str]) -> dict[str, Any]:
    """``{"custom": {key: value}}`` for every custom input shown; an empty value clears the field."""
    return {"custom": {n.removeprefix("custom."): form.cleaned_data.get(n) or "" for n in names}}


# --- contact: creation ----------------------------------------------------------------------


class ContactCreateForm(ServiceForm):
    ROWS = {"emails": ("email",), "phones": ("phone",)}

    full_name = forms.CharField(label=_("Full name"), required=False, max_length=200)
    company = forms.CharField(label=_("Company"), required=False, max_length=200)
    lifecycle_stage = forms.ChoiceField(label=_("Lifecycle stage"), required=False)
    owner = forms.ChoiceField(label=_("Owner"), required=False)
    source = forms.ChoiceField(label=_("Source"), choices=Source.choices, initial=Source.OTHER, required=False)
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Separate tags with commas."), max_length=1000)

    def __init__(self, data: Mapping[str, Any] | None = None, *, user: User) -> None:
        hidden = selectors.hidden_fields(user)
        super().__init__(data, hidden=hidden)
        stages = selectors.stage_choices()
        self.fields["lifecycle_stage"].choices = stages  # type: ignore[attr-defined]
        self.fields["owner"].choices = [("", _("Unassigned")), *selectors.user_choices()]  # type: ignore[attr-defined]
        if stages:
            self.initial["lifecycle_stage"] = stages[0][0]
        if user.role.record_scope != "all":
            # Own-scope roles would lose sight of what they create unassigned to someone else.
            self.initial["owner"] = str(user.pk)
        self.custom_names = add_custom_fields(self, selectors.visible_custom_fields(user), {})

    def to_data(self) -> dict[str, Any]:
        cd = self.cleaned_data
        data: dict[str, Any] = {
            "full_name": cd.get("full_name", ""),
            "owner": cd.get("owner") or None,
            "source": cd.get("source") or Source.OTHER,
            "tags": _tags_list(cd.get("tags", "")),
            "emails": [r["email"] for r in self.posted_rows("emails")],
            "phones": [r["phone"] for r in self.posted_rows("phones")],
        }
        if cd.get("lifecycle_stage"):
            data["lifecycle_stage"] = cd["lifecycle_stage"]
        if cd.get("company"):
            data["companies"] = [{"company": cd["company"]}]
        custom = custom_data(self, self.custom_names)["custom"]
        if any(v not in ("", [], None) for v in custom.values()):
            data["custom"] = {k: v for k, v in custom.items() if v not in ("", [], None)}
        return data


# --- contact: the sections of its page ------------------------------------------------------


class SectionForm(ServiceForm):
    """The form of one section of a contact page; it sends only that section's fields."""

    @classmethod
    def for_contact(cls, view: selectors.ContactView, user: User, data: Mapping[str, Any] | None = None) -> Any:
        raise NotImplementedError

    def to_data(self) -> dict[str, Any]:
        raise NotImplementedError


def _initial(contact: Contact, names: Iterable[str]) -> dict[str, Any]:
    return {n: getattr(contact, n) for n in names}


class IdentityForm(SectionForm):
    SCALARS = ("street", "ward", "province", "address_raw", "birthday", "gender")
    ROWS = {
        "emails": ("email", "email_label"),
        "phones": ("phone", "phone_label"),
        "companies": ("company", "company_job_title"),
        "external_ids": ("ext_system", "ext_value"),
        "social_profiles": ("social_network", "social_handle"),
    }

    full_name = forms.CharField(label=_("Full name"), required=False, max_length=200)
    family_name = forms.CharField(label=_("Family name"), required=False, max_length=80)
    middle_name = forms.CharField(label=_("Middle name"), required=False, max_length=120)
    given_name = forms.CharField(label=_("Given name"), required=False, max_length=80)
    name_order = forms.ChoiceField(label=_("Name order"), choices=NameOrder.choices, required=False)
    street = forms.CharField(label=_("Street address"), required=False, max_length=255)
    ward = forms.CharField(label=_("Ward / commune"), required=False, max_length=120)
    province = _choice(PROVINCES, _("Province / city"))
    address_raw = forms.CharField(label=_("Address as entered"), required=False, widget=TEXTAREA)
    birthday = forms.CharField(label=_("Birthday"), required=False, widget=DATE_INPUT)
    gender = _choice(Gender.choices, _("Gender"))

    @classmethod
    def for_contact(cls, view: selectors.ContactView, user: User, data: Mapping[str, Any] | None = None) -> Any:
        c = view.contact
        initial = _initial(c, ("full_name", "family_name", "middle_name", "given_name", "name_order", *cls.SCALARS))
        initial["birthday"] = c.birthday.isoformat() if c.birthday else ""
        rows = {
            "emails": [{"email": e.email, "email_label": e.label} for e in view.emails],
            "phones": [{"phone": p.raw or p.e164, "phone_label": p.label} for p in view.phones],
            "companies": [
                {"company": link.company.name, "company_job_title": link.job_title} for link in view.company_links
            ],
            "external_ids": [{"ext_system": x.system, "ext_value": x.value} for x in view.external_ids],
            "social_profiles": [{"social_network": s.network, "social_handle": s.handle} for s in view.social_profiles],
        }
        return cls(data, initial=initial, hidden=view.hidden, initial_rows=rows)

    def to_data(self) -> dict[str, Any]:
        data = self.field_values(self.SCALARS)
        changed = set(self.changed_data)
        parts = ("family_name", "middle_name", "given_name")
        # The service splits a new full name into parts, or joins new parts into a full name;
        # send only the side the person changed so the other follows it.
        if changed & set(parts):
            data.update(self.field_values(parts))
            data["full_name"] = self.cleaned_data["full_name"] if "full_name" in changed else ""
        elif "full_name" in changed:
            data["full_name"] = self.cleaned_data["full_name"]
        if "name_order" in changed and self.cleaned_data.get("name_order"):
            data["name_order"] = self.cleaned_data["name_order"]
        data["emails"] = [{"email": r["email"], "label": r["email_label"]} for r in self.posted_rows("emails")]
        data["phones"] = [{"phone": r["phone"], "label": r["phone_label"]} for r in self.posted_rows("phones")]
        data["companies"] = [
            {"company": r["company"], "job_title": r["company_job_title"]} for r in self.posted_rows("companies")
        ]
        data["external_ids"] = [
            {"system": r["ext_system"], "value": r["ext_value"]} for r in self.posted_rows("external_ids")
        ]
        data["social_profiles"] = [
            {"network": r["social_network"], "handle": r["social_handle"]} for r in self.posted_rows("social_profiles")
        ]
        return data

    @property
    def network_choices(self) -> list[tuple[str, str]]:
        return [(str(v), str(label)) for v, label in SocialProfile.Network.choices]


class PlainSectionForm(SectionForm):
    """A section of plain text fields, sent as typed."""

    @classmethod
    def for_contact(cls, view: selectors.ContactView, user: User, data: Mapping[str, Any] | None = None) -> Any:
        return cls(data, initial=_initial(view.contact, cls.base_fields), hidden=view.hidden)

    def to_data(self) -> dict[str, Any]:
        return self.field_values(self.fields)


class DescriptiveForm(PlainSectionForm):
    occupation = forms.CharField(label=_("Occupation"), required=False, max_length=120)
    job_title = forms.CharField(label=_("Job title"), required=False, max_length=120)
    education = forms.CharField(label=_("Education"), required=False, max_length=120)
    income_band = forms.CharField(label=_("Income band"), required=False, max_length=60)
    family = forms.CharField(label=_("Family"), required=False, widget=TEXTAREA)
    lifestyle = forms.CharField(label=_("Lifestyle"), required=False, widget=TEXTAREA)
    hobbies = forms.CharField(label=_("Hobbies"), required=False, widget=TEXTAREA)


class QualitativeForm(PlainSectionForm):
    preferences = forms.CharField(label=_("Preferences"), required=False, widget=TEXTAREA)
    motivations = forms.CharField(label=_("Motivations"), required=False, widget=TEXTAREA)
    likes = forms.CharField(label=_("Likes"), required=False, widget=TEXTAREA)
    dislikes = forms.CharField(label=_("Dislikes"), required=False, widget=TEXTAREA)


class RelationshipForm(SectionForm):
    lifecycle_stage = forms.ChoiceField(label=_("Lifecycle stage"), required=False)
    buyer_role = forms.ChoiceField(label=_("Buyer role"), required=False)
    source = forms.ChoiceField(label=_("Source"), choices=Source.choices, required=False)
    owner = forms.ChoiceField(label=_("Owner"), required=False)
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Separate tags with commas."))

    @classmethod
    def for_contact(cls, view: selectors.ContactView, user: User, data: Mapping[str, Any] | None = None) -> Any:
        c = view.contact
        initial = {
            "lifecycle_stage": c.lifecycle_stage.key if c.lifecycle_stage_id else "",
            "buyer_role": c.buyer_role.key if c.buyer_role else "",
            "source": c.source,
            "owner": str(c.owner_id or ""),
            "tags": ", ".join(t.name for t in view.tags),
        }
        form = cls(data, initial=initial, hidden=view.hidden)
        form.fields["lifecycle_stage"].choices = selectors.stage_choices()  # type: ignore[attr-defined]
        form.fields["buyer_role"].choices = [*BLANK, *selectors.buyer_role_choices()]  # type: ignore[attr-defined]
        form.fields["owner"].choices = [("", _("Unassigned")), *selectors.user_choices()]  # type: ignore[attr-defined]
        return form

    def to_data(self) -> dict[str, Any]:
        cd = self.cleaned_data
        data: dict[str, Any] = {
            "buyer_role": cd.get("buyer_role") or None,
            "owner": cd.get("owner") or None,
            "tags": _tags_list(cd.get("tags", "")),
        }
        if cd.get("lifecycle_stage"):
            data["lifecycle_stage"] = cd["lifecycle_stage"]
        if cd.get("source"):
            data["source"] = cd["source"]
        return data


class CustomFieldsForm(SectionForm):
    custom_names: list[str]

    @classmethod
    def for_contact(cls, view: selectors.ContactView, user: User, data: Mapping[str, Any] | None = None) -> Any:
        form = cls(data, hidden=view.hidden)
        form.custom_names = add_custom_fields(form, [cf for cf, _ in view.custom], {cf.key: v for cf, v in view.custom})
        return form

    def to_data(self) -> dict[str, Any]:
        return custom_data(self, self.custom_names)


SECTIONS: dict[str, tuple[Any, type[SectionForm]]] = {
    "identity": (_("Identity"), IdentityForm),
    "descriptive": (_("Descriptive"), DescriptiveForm),
    "qualitative": (_("Qualitative"), QualitativeForm),
    "relationship": (_("Relationship"), RelationshipForm),
    "custom": (_("Custom fields"), CustomFieldsForm),
}


# --- contact list ---------------------------------------------------------------------------


class CompanyFilterForm(forms.Form):
    """Renders the companies list's filters; parsing is :meth:`selectors.CompanyFilters.from_params`."""

    industry = forms.CharField(
        label=_("Industry"), required=False, max_length=120, widget=forms.TextInput(attrs={"list": "industries"})
    )
    province = _choice(PROVINCES, _("Province / city"))
    has_contacts = _choice([("true", _("With contacts")), ("false", _("Without contacts"))], _("Contacts"))


class ContactFilterForm(forms.Form):
    """Renders the list filters with their current values; parsing is
    :meth:`selectors.ContactFilters.from_params`, shared with the API and exports."""

    q = forms.CharField(required=False, widget=forms.TextInput(attrs={"type": "search"}))
    lifecycle_stage = forms.ChoiceField(label=_("Lifecycle stage"), required=False)
    owner = forms.ChoiceField(label=_("Owner"), required=False)
    tag = forms.ChoiceField(label=_("Tag"), required=False)
    source = _choice(Source.choices, _("Source"))
    province = _choice(PROVINCES, _("Province / city"))
    buyer_role = forms.ChoiceField(label=_("Buyer role"), required=False)
    has_email = _choice([("true", _("With email")), ("false", _("Without email"))], _("Email"))
    has_phone = _choice([("true", _("With phone")), ("false", _("Without phone"))], _("Phone"))
    created_after = forms.DateField(label=_("Created from"), required=False, widget=DATE_INPUT)
    created_before = forms.DateField(label=_("Created until"), required=False, widget=DATE_INPUT)
    # The filters other apps own (segment, purchase metrics) come from
    # extensions.CONTACT_LIST_FILTERS, for the roles that may use them.
    GRID = (
        "lifecycle_stage", "owner", "tag", "source", "province", "buyer_role", "has_email", "has_phone",
        "created_after", "created_before",
    )  # fmt: skip

    def __init__(self, data: Mapping[str, Any] | None = None, user: Any = None) -> None:
        super().__init__(data)
        f = self.fields
        self.custom_names: list[str] = []
        for cf in selectors.visible_custom_fields(user) if user is not None else []:
            name = f"custom.{cf.key}"
            if cf.type in (CustomField.Type.CHOICE, CustomField.Type.MULTI_CHOICE):
                f[name] = _choice([(c, c) for c in cf.choices], cf.label)
            elif cf.type == CustomField.Type.BOOLEAN:
                f[name] = _choice([("true", _("Yes")), ("false", _("No"))], cf.label)
            else:
                f[name] = forms.CharField(label=cf.label, required=False, max_length=200)
            self.custom_names.append(name)
        f["lifecycle_stage"].choices = [*BLANK, *selectors.stage_choices()]  # type: ignore[attr-defined]
        f["owner"].choices = [  # type: ignore[attr-defined]
            *BLANK,
            ("me", _("Me")),
            ("none", _("Unassigned")),
            *selectors.user_choices(),
        ]
        f["tag"].choices = [*BLANK, *((str(t.pk), t.name) for t in selectors.tag_choices())]  # type: ignore[attr-defined]
        f["buyer_role"].choices = [*BLANK, *selectors.buyer_role_choices()]  # type: ignore[attr-defined]
        self.grid_names = list(self.GRID)
        for list_filter in CONTACT_LIST_FILTERS:
            added = list_filter.fields(user)
            f.update(added)
            at = self.grid_names.index(list_filter.after) + 1 if list_filter.after in self.grid_names else None
            for offset, name in enumerate(added):
                if at is None:
                    self.grid_names.append(name)
                else:
                    self.grid_names.insert(at + offset, name)

    def grid(self) -> list[Any]:
        """The filter fields in the order the list page shows them (custom fields apart)."""
        return [self[name] for name in self.grid_names]

    def custom_fields(self) -> list[Any]:
        return [self[name] for name in self.custom_names]


class BulkActionForm(forms.Form):
    ACTIONS = [
        ("add_tag", _("Add tag")),
        ("remove_tag", _("Remove tag")),
        ("set_owner", _("Set owner")),
        ("set_stage", _("Set lifecycle stage")),
    ]
    action = forms.ChoiceField(label=_("Action"), choices=ACTIONS)
    tag = forms.CharField(label=_("Tag"), required=False, max_length=80)
    owner = forms.ChoiceField(label=_("Owner"), required=False)
    lifecycle_stage = forms.ChoiceField(label=_("Lifecycle stage"), required=False)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        super().__init__(data)
        self.fields["owner"].choices = [  # type: ignore[attr-defined]
            *BLANK,
            ("none", _("Unassigned")),
            *selectors.user_choices(),
        ]
        self.fields["lifecycle_stage"].choices = [*BLANK, *selectors.stage_choices()]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cd = super().clean() or {}
        needs = {"add_tag": "tag", "remove_tag": "tag", "set_owner": "owner", "set_stage": "lifecycle_stage"}
        name = needs.get(cd.get("action", ""))
        if name and not cd.get(name):
            self.add_error(name, _("Choose a value for this action."))
        raw = self.data.getlist("ids") if hasattr(self.data, "getlist") else []
        ids = [int(x) for x in raw if selectors.is_id(x)]
        if not ids:
            raise forms.ValidationError(_("Tick at least one contact."))
        cd["ids"] = ids
        return cd

    def to_kwargs(self) -> dict[str, Any]:
        cd = self.cleaned_data
        kwargs: dict[str, Any] = {"contact_ids": cd["ids"]}
        action = cd["action"]
        if action == "add_tag":
            kwargs["add_tags"] = [cd["tag"]]
        elif action == "remove_tag":
            kwargs["remove_tags"] = [cd["tag"]]
        elif action == "set_owner":
            kwargs["owner"] = None if cd["owner"] == "none" else int(cd["owner"])
        elif action == "set_stage":
            kwargs["lifecycle_stage"] = cd["lifecycle_stage"]
        return kwargs


# --- timeline -------------------------------------------------------------------------------


class TimelineEntryForm(ServiceForm):
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[(k, label) for k, label in TimelineEntry.Kind.choices if k != TimelineEntry.Kind.SYSTEM],
        initial=TimelineEntry.Kind.NOTE,
    )
    channel = _choice(TimelineEntry.Channel.choices, _("Channel"))
    subject = forms.CharField(label=_("Subject"), required=False, max_length=200)
    body = forms.CharField(label=_("Details"), required=False, widget=TEXTAREA)
    occurred_at = forms.CharField(
        label=_("When"),
        required=False,
        widget=DATETIME_INPUT,
        help_text=_("Leave empty for now."),
    )
    is_private = forms.BooleanField(label=_("Private"), required=False)

    @classmethod
    def for_user(
        cls, user: User, data: Mapping[str, Any] | None = None, entry: TimelineEntry | None = None
    ) -> TimelineEntryForm:
        hidden = [] if user.sees_field("private_notes") else ["is_private"]
        initial = {}
        if entry is not None:
            initial = {
                "kind": entry.kind,
                "channel": entry.channel,
                "subject": entry.subject,
                "body": entry.body,
                "occurred_at": timezone.localtime(entry.occurred_at).strftime("%Y-%m-%dT%H:%M"),
                "is_private": entry.is_private,
            }
        return cls(data, initial=initial, hidden=hidden)

    def to_data(self) -> dict[str, Any]:
        data = self.field_values(("kind", "channel", "subject", "body", "is_private"))
        if self.cleaned_data.get("occurred_at"):
            data["occurred_at"] = self.cleaned_data["occurred_at"]
        return data


# --- companies ------------------------------------------------------------------------------


class CompanyForm(ServiceForm):
    name = forms.CharField(label=_("Name"), required=False, max_length=200)
    domain = forms.CharField(label=_("Domain"), required=False, max_length=200)
    website = forms.CharField(label=_("Website"), required=False, widget=forms.URLInput)
    tax_code = forms.CharField(label=_("Tax code"), required=False, max_length=20)
    industry = forms.CharField(label=_("Industry"), required=False, max_length=120)
    size = forms.CharField(label=_("Size"), required=False, max_length=40)
    email = forms.CharField(label=_("Email"), required=False, widget=forms.EmailInput)
    phone = forms.CharField(label=_("Phone"), required=False, widget=forms.TextInput(attrs={"type": "tel"}))
    street = forms.CharField(label=_("Street address"), required=False, max_length=255)
    ward = forms.CharField(label=_("Ward / commune"), required=False, max_length=120)
    province = _choice(PROVINCES, _("Province / city"))
    description = forms.CharField(label=_("Description"), required=False, widget=TEXTAREA)
    owner = forms.ChoiceField(label=_("Owner"), required=False)

    STANDARD = (
        "name", "domain", "website", "tax_code", "industry", "size", "email", "phone", "street", "ward",
        "province", "description", "owner",
    )  # fmt: skip

    @classmethod
    def for_company(cls, user: User, company: Any = None, data: Mapping[str, Any] | None = None) -> CompanyForm:
        initial = {}
        if company is not None:
            initial = {n: getattr(company, n) for n in cls.STANDARD if n != "owner"}
            initial["owner"] = str(company.owner_id or "")
        form = cls(data, initial=initial)
        form.creating = company is None
        form.fields["owner"].choices = [("", _("Unassigned")), *selectors.user_choices()]  # type: ignore[attr-defined]
        form.custom_names = add_custom_fields(
            form, selectors.visible_custom_fields(user, "company"), company.custom if company else {}
        )
        return form

    custom_names: list[str]
    creating: bool

    def to_data(self) -> dict[str, Any]:
        data = self.field_values(self.STANDARD)
        data["owner"] = data.get("owner") or None
        custom = custom_data(self, self.custom_names)["custom"]
        if self.creating:  # send only what was filled in
            custom = {k: v for k, v in custom.items() if v not in ("", [], None)}
        data["custom"] = custom
        return data
