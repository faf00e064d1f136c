"""Forms of the accounts pages. They only parse input; the services validate and write."""

from __future__ import annotations

import zoneinfo
from functools import cache
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from danhba.accounts import permissions as perms
from danhba.accounts.models import Role, Team
from danhba.core.errors import ServiceError

LANGUAGE_CHOICES = [("", _("Browser default")), *settings.LANGUAGES]


# Where danhba's users are: Vietnam first, whatever zone the site or the user is in.
HOME_ZONE = "Asia/Ho_Chi_Minh"


@cache
def _all_zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def _zone_choice(name: str) -> tuple[str, str]:
    return (name, name.replace("_", " "))


def time_zone_choices(current: str = "") -> list[tuple[Any, list[tuple[str, str]]]]:
    """The zones in three groups, so nobody scrolls from "Africa/Abidjan": Vietnam, the current
    and the site's zone; the other zones of the current zone's region (Asia/… for Vietnam);
    then all the rest. Each zone appears once."""
    zones = _all_zones()
    first = [z for z in dict.fromkeys((HOME_ZONE, current, settings.TIME_ZONE)) if z in zones]
    region = (current if current in zones else HOME_ZONE).split("/")[0] + "/"
    nearby = [z for z in zones if z.startswith(region) and z not in first]
    shown = {*first, *nearby}
    return [
        (_("Suggested"), [_zone_choice(z) for z in first]),
        (_("Same region"), [_zone_choice(z) for z in nearby]),
        (_("All time zones"), [_zone_choice(z) for z in zones if z not in shown]),
    ]


def apply_service_error(form: forms.Form, exc: ServiceError, rename: dict[str, str] | None = None) -> None:
    """Put a service's error messages next to the form's fields (or above the form)."""
    rename = rename or {}
    details = exc.details if isinstance(exc.details, dict) else {}
    placed = False
    for key, messages in details.items():
        name = rename.get(key, key)
        texts = [str(m) for m in messages] if isinstance(messages, (list, tuple)) else [str(messages)]
        if name in form.fields:
            form.add_error(name, texts)
        else:
            form.add_error(None, [f"{key}: {t}" for t in texts])
        placed = True
    if not placed:
        form.add_error(None, exc.message)


class LoginForm(forms.Form):
    email = forms.CharField(
        label=_("Email"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Password"),
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def clean_email(self) -> str:
        return str(self.cleaned_data["email"]).strip().lower()


class ProfileForm(forms.Form):
    full_name = forms.CharField(label=_("Name"), max_length=200, required=False)
    language = forms.ChoiceField(label=_("Language"), choices=LANGUAGE_CHOICES, required=False)
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=time_zone_choices)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = str(self.data.get("time_zone") or self.initial.get("time_zone") or "")
        field = self.fields["time_zone"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = time_zone_choices(current)


class PasswordChangeForm(forms.Form):
    current_password = forms.CharField(
        label=_("Current password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    new_password1 = forms.CharField(
        label=_("New password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    new_password2 = forms.CharField(
        label=_("New password again"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("new_password1") and data.get("new_password2") and data["new_password1"] != data["new_password2"]:
            self.add_error("new_password2", _("The two new passwords are not the same."))
        return data


class SetPasswordForm(forms.Form):
    password = forms.CharField(
        label=_("New password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Key name"), max_length=120, widget=forms.TextInput(attrs={"placeholder": _("e.g. Website sync")})
    )


class _UserFields(forms.Form):
    full_name = forms.CharField(label=_("Name"), max_length=200, required=False)
    role = forms.ModelChoiceField(label=_("Role"), queryset=Role.objects.all(), to_field_name="key", empty_label=None)
    team = forms.ModelChoiceField(
        label=_("Team"), queryset=Team.objects.all(), required=False, empty_label=_("No team")
    )
    language = forms.ChoiceField(label=_("Language"), choices=LANGUAGE_CHOICES, required=False)


class UserCreateForm(_UserFields):
    email = forms.CharField(label=_("Email"), max_length=254)
    password = forms.CharField(
        label=_("Initial password"),
        strip=False,
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to set it later: the user cannot log in until a password is set."),
    )

    field_order = ["email", "full_name", "role", "team", "language", "password"]


class UserEditForm(_UserFields):
    is_active = forms.BooleanField(
        label=_("Active"), required=False, help_text=_("Inactive users cannot log in and their API keys stop working.")
    )
    is_available = forms.BooleanField(
        label=_("Available for assignment"), required=False, help_text=_("Untick while someone is away.")
    )


class RoleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    record_scope = forms.ChoiceField(label=_("Record visibility"), choices=perms.SCOPES, widget=forms.RadioSelect)
    permissions = forms.MultipleChoiceField(
        choices=[(f"{obj}.{action}", f"{obj}.{action}") for obj in perms.OBJECTS for action in perms.ACTIONS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    all_sensitive = forms.BooleanField(label=_("All sensitive fields, including future ones"), required=False)
    sensitive_fields = forms.MultipleChoiceField(
        label=_("Sensitive fields"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, sensitive_choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["sensitive_fields"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = sensitive_choices

    def role_data(self) -> dict[str, Any]:
        """The cleaned form as the ``data`` that ``role_save`` takes."""
        granted: dict[str, list[str]] = {}
        for item in self.cleaned_data["permissions"]:
            obj, action = item.split(".", 1)
            granted.setdefault(obj, []).append(action)
        sensitive = list(self.cleaned_data["sensitive_fields"])
        if self.cleaned_data["all_sensitive"]:
            sensitive = [perms.ALL_FIELDS]
        return {
            "name": self.cleaned_data["name"],
            "record_scope": self.cleaned_data["record_scope"],
            "permissions": granted,
            "sensitive_fields": sensitive,
        }


class TeamForm(forms.Form):
    name = forms.CharField(label=_("Team name"), max_length=120)
