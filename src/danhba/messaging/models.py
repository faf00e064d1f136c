"""Email templates (this slice); campaigns and the send log come next (issue 13)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EmailTemplate(models.Model):
    """An email as its author wrote it: Liquid in the subject, preheader, HTML (or MJML) and
    plain-text parts. Rendering (compose.py) compiles MJML, fills the tokens, inlines CSS and
    derives the text part when it is left empty."""

    class Kind(models.TextChoices):
        MARKETING = "marketing", _("Marketing email")
        TRANSACTIONAL = "transactional", _("Transactional email")

    class Format(models.TextChoices):
        HTML = "html", _("HTML")
        MJML = "mjml", _("MJML")

    name = models.CharField(_("name"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=15, choices=Kind.choices, default=Kind.MARKETING)
    subject = models.CharField(_("subject"), max_length=500)
    preheader = models.CharField(_("preheader"), max_length=300, blank=True)
    format = models.CharField(_("format"), max_length=5, choices=Format.choices, default=Format.HTML)
    body = models.TextField(_("body"), blank=True)
    text_body = models.TextField(_("plain text"), blank=True)
    sender_name = models.CharField(_("sender name"), max_length=120, blank=True)
    sender_email = models.CharField(_("sender address"), max_length=254, blank=True)
    reply_to = models.CharField(_("reply-to address"), max_length=254, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("changed"), default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_marketing(self) -> bool:
        return self.kind == self.Kind.MARKETING

    @property
    def from_address(self) -> str:
        return self.sender_email or settings.DEFAULT_FROM_EMAIL
