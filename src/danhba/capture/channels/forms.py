"""The connection form of the settings pages (the service validates again)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from danhba.capture.channels.mapping import mapping_as_text, mapping_from_text
from danhba.capture.models import ChannelConnection, ChannelKind

SECRET_HELP = _("Stored and never shown again. Leave empty to keep the stored one.")


class ConnectionForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    account_id = forms.CharField(label=_("Page id"), max_length=64)
    app_id = forms.CharField(label=_("App id"), max_length=64, required=False)
    secret = forms.CharField(label=_("App secret"), max_length=200, required=False, widget=forms.PasswordInput)
    access_token = forms.CharField(
        label=_("Page access token"), max_length=2000, required=False, widget=forms.PasswordInput
    )
    verify_token = forms.CharField(
        label=_("Verify token"), max_length=200, required=False, widget=forms.PasswordInput,
        help_text=_("Any phrase you choose; type the same one in the Facebook app's webhook settings."),
    )  # fmt: skip
    graph_version = forms.CharField(label=_("Graph API version"), max_length=10, initial="v21.0", required=False)
    mapping = forms.CharField(
        label=_("Field mapping"), required=False, widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}),
        help_text=_("One per line: “form field = target”. Targets: a contact field, custom:<key>, consent:<purpose> "
                    "or ignore."),
    )  # fmt: skip
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args: Any, kind: str, connection: ChannelConnection | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.connection = connection
        if kind == ChannelKind.ZALO:
            self.fields["account_id"].label = _("OA id")
            self.fields["app_id"].required = True
            self.fields["secret"].label = _("OA secret key")
            self.fields["secret"].help_text = _("The OA's secret key (not the app's). Stored and never shown again.")
            for name in ("access_token", "verify_token", "graph_version"):
                del self.fields[name]
        else:
            self.fields["app_id"].help_text = _("Optional, for your records.")
        if connection is None:
            self.fields["secret"].required = True
            if kind == ChannelKind.FACEBOOK:
                self.fields["verify_token"].required = True
                self.fields["access_token"].help_text = _("Stored and never shown again.")
        else:
            self.fields["secret"].help_text = SECRET_HELP
            for name in ("access_token", "verify_token"):
                if name in self.fields:
                    self.fields[name].help_text = SECRET_HELP

    def clean_mapping(self) -> dict[str, str] | None:
        text = self.cleaned_data.get("mapping") or ""
        if not text.strip():
            return None
        mapping, problems = mapping_from_text(text)
        if problems:
            raise forms.ValidationError(problems)
        return mapping

    def service_data(self) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if k in self.fields}
        if data.get("mapping") is None:
            data.pop("mapping", None)
        if not data.get("graph_version"):
            data.pop("graph_version", None)
        return data

    @staticmethod
    def initial_of(connection: ChannelConnection) -> dict[str, Any]:
        return {
            "name": connection.name, "account_id": connection.account_id, "app_id": connection.app_id,
            "graph_version": connection.graph_version, "mapping": mapping_as_text(connection.mapping),
            "is_active": connection.is_active,
        }  # fmt: skip
