"""The audit log's filter form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from danhba.accounts import permissions as perms
from danhba.accounts.models import User
from danhba.audit.models import AuditEvent
from danhba.audit.selectors import AuditFilters
from danhba.core.keyset import MAX_PK

BLANK = [("", "—")]
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


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
