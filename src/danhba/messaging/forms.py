from django import forms
from django.utils.translation import gettext_lazy as _

from danhba.messaging.models import AbMetric, EmailTemplate
from danhba.privacy.models import ConsentPurpose
from danhba.segments.models import Segment

LIQUID_HELP = _(
    "Liquid tokens: {{ contact.given_name }}, {{ contact.full_name }}, {{ xung_ho }} (anh/chị from gender), "
    "{{ company.name }}, {{ owner.name }}, {{ contact.custom.KEY }}, {{ links.unsubscribe }}, "
    '{{ links.preferences }}; a fallback: {{ contact.given_name | default: "bạn" }}.'
)


class TemplateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=EmailTemplate.Kind.choices,
        help_text=_("Marketing email carries the advertising label and counts against the frequency cap."),
    )
    subject = forms.CharField(label=_("Subject"), max_length=500, widget=forms.TextInput(attrs={"size": 70}))
    preheader = forms.CharField(
        label=_("Preheader"),
        max_length=300,
        required=False,
        help_text=_("The line inboxes show after the subject."),
        widget=forms.TextInput(attrs={"size": 70}),
    )
    format = forms.ChoiceField(label=_("Body format"), choices=EmailTemplate.Format.choices)
    body = forms.CharField(
        label=_("Body"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 18, "class": "code", "spellcheck": "false"}),
        help_text=LIQUID_HELP,
    )
    text_body = forms.CharField(
        label=_("Plain text"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "class": "code"}),
        help_text=_("Left empty, it is made from the HTML."),
    )
    sender_name = forms.CharField(label=_("Sender name"), max_length=120, required=False)
    sender_email = forms.CharField(label=_("Sender address"), max_length=254, required=False)
    reply_to = forms.CharField(label=_("Reply-to address"), max_length=254, required=False)


class PreviewForm(forms.Form):
    """The parts of the editor, read by the live preview (not saved)."""

    subject = forms.CharField(max_length=500, required=False)
    preheader = forms.CharField(max_length=300, required=False)
    kind = forms.ChoiceField(choices=EmailTemplate.Kind.choices, required=False)
    format = forms.ChoiceField(choices=EmailTemplate.Format.choices, required=False)
    body = forms.CharField(required=False, max_length=500_000, strip=False)
    text_body = forms.CharField(required=False, max_length=500_000, strip=False)
    contact = forms.CharField(required=False, max_length=320)


class TestSendForm(forms.Form):
    to = forms.CharField(label=_("Send a test to"), max_length=320, widget=forms.EmailInput())
    contact = forms.CharField(
        label=_("Rendered for contact"),
        max_length=320,
        required=False,
        help_text=_("A contact's number or email; empty: a made-up sample contact."),
    )


class AbTestFields(forms.Form):
    """An A/B test's settings on the campaign form (used once the campaign has variants)."""

    ab_share = forms.IntegerField(
        label=_("Test share (%)"),
        required=False,
        min_value=1,
        max_value=50,
        initial=10,
        help_text=_("With variants: this share of the audience gets them, at random; the rest gets the winner."),
    )
    ab_wait_hours = forms.IntegerField(
        label=_("Choose the winner after (hours)"), required=False, min_value=1, max_value=168, initial=4
    )
    ab_metric = forms.ChoiceField(
        label=_("Winner by"), required=False, choices=AbMetric.choices, initial=AbMetric.CLICKS
    )


class CampaignForm(AbTestFields):
    name = forms.CharField(label=_("Name"), max_length=200)
    template = forms.ModelChoiceField(label=_("Template"), queryset=EmailTemplate.objects.all())
    segments = forms.ModelMultipleChoiceField(
        label=_("Send to"),
        queryset=Segment.objects.order_by("name"),
        help_text=_("Segments and lists; a contact in several gets one email."),
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    exclude_segments = forms.ModelMultipleChoiceField(
        label=_("Leave out"),
        queryset=Segment.objects.order_by("name"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    topic = forms.ModelChoiceField(
        label=_("Topic"),
        queryset=ConsentPurpose.objects.filter(email_topic=True, is_active=True),
        to_field_name="key",
        required=False,
        help_text=_("Contacts who opted out of this topic in the preference centre are left out."),
    )
    per_hour = forms.IntegerField(
        label=_("At most per hour"),
        min_value=0,
        max_value=1_000_000,
        initial=0,
        help_text=_("0: as fast as the mail server takes them."),
    )
    tracking = forms.BooleanField(
        label=_("Track opens and clicks"),
        required=False,
        help_text=_(
            "An invisible image and links through danhba tell who opened and clicked. Off: nothing is tracked."
        ),
    )


class VariantForm(forms.Form):
    subject = forms.CharField(
        label=_("Subject"), max_length=500, required=False, help_text=_("Empty: the template's subject.")
    )
    sender_name = forms.CharField(label=_("Sender name"), max_length=120, required=False)
    sender_email = forms.CharField(label=_("Sender address"), max_length=254, required=False)
    template = forms.ModelChoiceField(
        label=_("Content"),
        queryset=EmailTemplate.objects.all(),
        required=False,
        empty_label=_("The campaign's template"),
    )


class ScheduleForm(forms.Form):
    at = forms.DateTimeField(
        label=_("Send at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("In your time zone; empty: now."),
    )


class DomainForm(forms.Form):
    domain = forms.CharField(
        label=_("Domain"),
        max_length=300,
        help_text=_("The domain of the sender addresses, e.g. anhduong.vn or tin.anhduong.vn."),
    )
    selector = forms.CharField(
        label=_("DKIM selector"),
        max_length=63,
        required=False,
        help_text=_("Optional; danhba picks one such as danhba202612."),
    )
