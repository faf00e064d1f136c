from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from danhba.webhooks.models import Topic
from danhba.webhooks.transport import UnsafeURL, check_url


class EndpointForm(forms.Form):
    url = forms.CharField(
        label=_("Endpoint URL"),
        max_length=2000,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/danhba", "size": 60}),
        help_text=_("danhba POSTs JSON here. Use https:// so payloads travel encrypted."),
    )
    description = forms.CharField(label=_("Description"), max_length=500, required=False)
    topics = forms.MultipleChoiceField(
        label=_("Topics"),
        # Lazy, so each request sees the labels in its own language.
        choices=[(t.value, format_lazy("{} — {}", t.value, t.label)) for t in Topic],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one topic.")},
    )

    def clean_url(self) -> str:
        # The service checks it again; here so the error shows beside the topics' errors.
        url = self.cleaned_data["url"].strip()
        try:
            check_url(url)
        except UnsafeURL as exc:
            raise forms.ValidationError(str(exc)) from None
        return url


class RotateForm(forms.Form):
    keep_previous_hours = forms.TypedChoiceField(
        label=_("Keep the old secret valid for"),
        coerce=int,
        choices=[(0, _("no time: stop it now (it leaked)")), (1, _("1 hour")), (24, _("24 hours")), (72, _("3 days"))],
        initial=24,
    )


class EnableForm(forms.Form):
    resend_failed = forms.BooleanField(
        label=_("Also resend the deliveries given up while it was failing"), required=False, initial=True
    )
