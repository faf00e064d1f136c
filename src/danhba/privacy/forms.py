"""Forms of the privacy pages: recording consent."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from danhba.contacts.views.settings import ChoiceForm
from danhba.privacy.models import ConsentPurpose, ConsentSource, ConsentStatus

BLANK = [("", "—")]


class ConsentForm(forms.Form):
    purpose = forms.ChoiceField(label=_("Purpose"))
    # No initial value: consent is never pre-ticked, staff choose what the person said.
    status = forms.ChoiceField(label=_("Statement"), choices=ConsentStatus.choices, widget=forms.RadioSelect)
    source = forms.ChoiceField(label=_("Source"), choices=ConsentSource.choices, initial=ConsentSource.UI)
    proof = forms.CharField(
        label=_("Proof"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Form URL, file name, note of a call…"),
    )
    text_version = forms.CharField(label=_("Consent text version"), required=False, max_length=60)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["purpose"].choices = [  # type: ignore[attr-defined]
            (p.key, p.label) for p in ConsentPurpose.objects.filter(is_active=True)
        ]

    def apply_errors(self, details: dict[str, Any]) -> None:
        for key, texts in details.items():
            self.add_error(key if key in self.fields else None, [str(t) for t in texts])


class PurposeForm(ChoiceForm):
    """A consent purpose on the settings page (``contacts.views.settings.SETTINGS_LISTS``)."""

    description = forms.CharField(
        label=_("Description"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 4})
    )
    email_topic = forms.BooleanField(
        label=_("Email topic"),
        required=False,
        help_text=_("Offered in the email preference centre; a campaign about it skips those who opted out."),
    )
