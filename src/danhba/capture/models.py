"""Models of the capture app.

Web forms (this part): a :class:`WebForm` is the builder's output (fields mapped to contact
fields, queued questions for progressive profiling, consent checkboxes with their exact wording,
where it may be embedded); a :class:`FormSubmission` is stored as it came, before anything is
done with it, so a submission that fails to become a contact stays visible and can be retried;
:class:`FormDay` counts views, submissions and blocked spam per form and day (the list's chart).
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from danhba.contacts.models import Contact


class WebForm(models.Model):
    class Language(models.TextChoices):
        VI = "vi", "Tiếng Việt"
        EN = "en", "English"

    name = models.CharField(_("name"), max_length=200)
    # The public address: /f/<slug>. Unguessable enough for a form that is public anyway.
    slug = models.SlugField(_("address"), max_length=80, unique=True)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices, default=Language.VI)
    is_active = models.BooleanField(_("active"), default=True)
    # [{"key", "target", "label", "required", "kind", "help"}]: target is a contact field
    # ("email", "phone", "full_name", …) or "custom:<key>"; see capture.fields.TARGETS.
    fields = models.JSONField(_("fields"), default=list, blank=True)
    # Progressive profiling: asked instead of fields a known visitor has already filled.
    queue = models.JSONField(_("queued questions"), default=list, blank=True)
    # [{"purpose": key, "text": exact wording, "required": bool}] — never pre-ticked.
    consents = models.JSONField(_("consent checkboxes"), default=list, blank=True)
    submit_label = models.CharField(_("button text"), max_length=80, blank=True)
    thanks_message = models.TextField(_("thank-you message"), blank=True)
    redirect_url = models.URLField(_("redirect to"), max_length=500, blank=True)
    double_opt_in = models.BooleanField(_("double opt-in email"), default=False)
    # Origins ("https://shop.example.vn") allowed to embed the form (script or iframe).
    allowed_origins = models.JSONField(_("sites that may embed it"), default=list, blank=True)
    # 0: off; else a submission sent sooner than this after the form was shown is spam.
    min_fill_seconds = models.PositiveSmallIntegerField(_("minimum seconds to fill"), default=0)
    contact_tags = models.JSONField(_("tags for new contacts"), default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("web form")

    def __str__(self) -> str:
        return self.name

    def all_questions(self) -> list[dict[str, Any]]:
        return [*self.fields, *self.queue]


class FormSubmission(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        DONE = "done", _("Contact written")
        FAILED = "failed", _("Failed")

    form = models.ForeignKey(WebForm, on_delete=models.CASCADE, related_name="submissions")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.RECEIVED)
    # What the visitor sent, as sent (the honeypot and the render token left out).
    payload = models.JSONField(_("payload"), default=dict)
    # Questions shown (keys), consents ticked ([{"purpose", "text"}]), UTM and the page.
    shown = models.JSONField(default=list)
    consents = models.JSONField(default=list)
    utm = models.JSONField(default=dict)
    page_url = models.CharField(_("page"), max_length=1000, blank=True)
    referrer = models.CharField(_("referrer"), max_length=1000, blank=True)
    anonymous_id = models.CharField(max_length=200, blank=True)
    known_contact_id = models.BigIntegerField(null=True, blank=True)  # from the signed visitor token
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="form_submissions"
    )
    created_contact = models.BooleanField(default=False)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    confirm_sent_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    created_at = models.DateTimeField(_("received"), default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["form", "-id"], name="capture_sub_form_id"),
            models.Index(fields=["status", "id"], name="capture_sub_status"),
        ]

    def __str__(self) -> str:
        return f"{self.form_id}#{self.pk}"


class FormDay(models.Model):
    """Per form and day: times shown, submissions taken, submissions blocked as spam (by rule)."""

    form = models.ForeignKey(WebForm, on_delete=models.CASCADE, related_name="days")
    day = models.DateField()
    views = models.PositiveIntegerField(default=0)
    submissions = models.PositiveIntegerField(default=0)
    # Spam blocked, by the rule that caught it.
    blocked_honeypot = models.PositiveIntegerField(default=0)
    blocked_too_fast = models.PositiveIntegerField(default=0)
    blocked_rate = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["form", "day"], name="capture_formday_unique")]


# --- channels: Facebook Lead Ads and Zalo OA webhooks ---------------------------------------


class ChannelKind(models.TextChoices):
    FACEBOOK = "facebook", "Facebook Lead Ads"
    ZALO = "zalo", "Zalo OA"


def _webhook_key() -> str:
    return secrets.token_urlsafe(18)


class ChannelConnection(models.Model):
    """A Facebook page or a Zalo Official Account that sends leads to danhba. Its webhook URL
    holds ``key`` (which connection, hence which secret checks the signature); the requests are
    proved by their signature, not by the URL. The page access token is write-only: it is used
    to fetch leads and never shown again."""

    kind = models.CharField(_("channel"), max_length=10, choices=ChannelKind.choices)
    name = models.CharField(_("name"), max_length=120)
    key = models.CharField(max_length=40, unique=True, default=_webhook_key, editable=False)
    account_id = models.CharField(_("page or OA id"), max_length=64)
    app_id = models.CharField(_("app id"), max_length=64, blank=True)
    # The app secret (Facebook) or the OA secret key (Zalo): the signature checks need it as it is.
    secret = models.CharField(_("secret"), max_length=200)
    access_token = models.TextField(_("page access token"), blank=True)
    verify_token = models.CharField(_("verify token"), max_length=200, blank=True)
    graph_version = models.CharField(_("Graph API version"), max_length=10, default="v21.0")
    mapping = models.JSONField(_("field mapping"), default=dict, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["kind", "account_id"], name="capture_connection_account")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"


class PayloadStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    PROCESSED = "processed", _("Processed")
    FAILED = "failed", _("Failed")
    IGNORED = "ignored", _("Ignored")


class ChannelPayload(models.Model):
    """One webhook request, stored as it came before anything reads it: when mapping or the
    Graph API fails, nothing is lost and it can be processed again."""

    connection = models.ForeignKey(
        ChannelConnection, null=True, blank=True, on_delete=models.SET_NULL, related_name="payloads"
    )
    kind = models.CharField(_("channel"), max_length=10, choices=ChannelKind.choices)
    event = models.CharField(_("event"), max_length=60, blank=True)
    body = models.TextField(_("body"))
    headers = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    status = models.CharField(_("status"), max_length=10, choices=PayloadStatus.choices, default=PayloadStatus.RECEIVED)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "id"], name="capture_payload_status"),
            models.Index(fields=["connection", "id"], name="capture_payload_connection"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} {self.event}"


class ChannelLead(models.Model):
    """A lead a channel sent, by the channel's own key (the Facebook leadgen id): processing it
    again updates the contact it made, never a second one."""

    kind = models.CharField(max_length=10, choices=ChannelKind.choices)
    lead_key = models.CharField(max_length=100)
    connection = models.ForeignKey(
        ChannelConnection, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    payload = models.ForeignKey(ChannelPayload, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "lead_key"], name="capture_lead_key")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.lead_key}"
