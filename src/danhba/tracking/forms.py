from django import forms
from django.utils.translation import gettext_lazy as _

from danhba.tracking.models import Source


class SourceForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    kind = forms.ChoiceField(label=_("Kind"), choices=Source.Kind.choices, initial=Source.Kind.SERVER)
