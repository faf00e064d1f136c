from django import forms
from django.utils.translation import gettext_lazy as _

from danhba.tracking.models import Event, Source


class SourceForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    kind = forms.ChoiceField(label=_("Kind"), choices=Source.Kind.choices, initial=Source.Kind.SERVER)


class RetentionRuleForm(forms.Form):
    """A new retention rule. Empty ``keep_months`` keeps the events forever."""

    event_type = forms.ChoiceField(
        label=_("Event type"), choices=[("", _("Any type")), *Event.Type.choices], required=False
    )
    name = forms.CharField(label=_("Event name"), max_length=200, required=False, help_text=_("Empty: any name."))
    keep_months = forms.IntegerField(
        label=_("Keep (months)"), min_value=1, max_value=1200, required=False, help_text=_("Empty: keep forever.")
    )


class RetentionKeepForm(forms.Form):
    keep_months = forms.IntegerField(label=_("Keep (months)"), min_value=1, max_value=1200, required=False)
