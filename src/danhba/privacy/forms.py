"""Forms of the privacy pages: recording consent, filtering the audit log."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from danhba.accounts import permissions as perms
from danhba.accounts.models import User
from danhba.contacts.forms import DATE_INPUT
from danhba.contacts.selectors import AuditFilters
from danhba.core.keyset import MAX_PK
from danhba.privacy.models import AuditEvent, ConsentPurpose, ConsentSource, ConsentStatus

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


class AuditFilterForm(forms.Form):
    actor = forms.ChoiceField(label=_("Who"), required=False)
    action = forms.ChoiceField(label=_("Action"), required=False, choices=[*BLANK, *AuditEvent.Action.choices])
    object_type = forms.ChoiceField(
        label=_("Object"), required=False, choices=[*BLANK, *perms.OBJECTS.items(), ("settings", _("Settings"))]
    )
    via = forms.ChoiceField(label=_("Via"), required=False, choices=[*BLANK, *AuditEvent.Via.choices])
    date_from = forms.DateField(label=_("From"), required=False, widget=DATE_INPUT)
    date_to = forms.DateField(label=_("Until"), required=False, widget=DATE_INPUT)
    contact = forms.IntegerField(required=False, min_value=1, max_value=MAX_PK, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Everyone who ever acted, departed users included: the trail names them.
        self.fields["actor"].choices = [  # type: ignore[attr-defined]
            *BLANK,
            *((str(u.pk), str(u)) for u in User.objects.order_by("full_name", "email")),
        ]

    def filters(self) -> AuditFilters:
        cd = self.cleaned_data
        return AuditFilters(
            actor=int(cd["actor"]) if cd.get("actor") else None,
            action=cd.get("action") or "",
            object_type=cd.get("object_type") or "",
            via=cd.get("via") or "",
            date_from=cd.get("date_from"),
            date_to=cd.get("date_to"),
            contact=cd.get("contact"),
        )
