"""The consent ledger and the current consent state. The ledger is insert-only: the ORM refuses
to change or delete its rows, and the database refuses too (triggers in migration 0002: UPDATE
and DELETE on PostgreSQL; UPDATE on SQLite, whose test-database flush must still be able to
empty tables), so a record once written is proof. (The audit log, insert-only the same way, is
the ``audit`` app's.)"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from danhba.contacts.models import Contact, LabelledChoice
from danhba.core.models import InsertOnlyModel


class ConsentPurpose(LabelledChoice):
    description = models.TextField(_("description"), blank=True)
    # An email topic (subscription type): offered in the email preference centre, where a
    # recipient opts out of it; a campaign about the topic skips contacts who did.
    email_topic = models.BooleanField(
        _("email topic"),
        default=False,
        help_text=_("Offered in the email preference centre; a campaign about it skips those who opted out."),
    )

    class Meta(LabelledChoice.Meta):
        verbose_name = _("consent purpose")


class ConsentStatus(models.TextChoices):
    GRANTED = "granted", _("Granted")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class ConsentSource(models.TextChoices):
    FORM = "form", _("Web form")
    IMPORT = "import", _("Import")
    API = "api", _("API")
    VERBAL = "verbal", _("Verbal (noted by staff)")
    UI = "ui", _("Entered by staff")
    EMAIL = "email", _("Email link")


class ConsentRecord(InsertOnlyModel):
    """One statement of consent given or withdrawn, never changed afterwards."""

    # The ledger outlives the contact (proof of what was consented to and when), so no cascade.
    contact = models.ForeignKey(
        Contact, on_delete=models.DO_NOTHING, db_constraint=False, related_name="consent_records"
    )
    purpose = models.ForeignKey(ConsentPurpose, on_delete=models.PROTECT, related_name="records")
    status = models.CharField(_("status"), max_length=10, choices=ConsentStatus.choices)
    recorded_at = models.DateTimeField(_("when"), default=timezone.now)
    source = models.CharField(_("source"), max_length=10, choices=ConsentSource.choices)
    proof = models.TextField(_("proof"), blank=True, help_text=_("Form URL, file name, note of a call…"))
    text_version = models.CharField(_("consent text version"), max_length=60, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    # A withdrawal for a while (a pause of marketing email): the person asked to hear from us
    # again at this time; privacy.tasks then records the consent as granted again.
    until = models.DateTimeField(_("until"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(fields=["contact", "purpose", "recorded_at"], name="consent_contact_purpose"),
            # "Consent given or withdrawn in the last days" (the home page) reads a time range.
            models.Index(fields=["recorded_at", "id"], name="consent_recorded_at"),
        ]


class ConsentState(models.Model):
    """The current status per contact and purpose, derived from the ledger by the service that
    appends to it (in the same transaction). Segments and sending filter on this table."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consent_states")
    purpose = models.ForeignKey(ConsentPurpose, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=ConsentStatus.choices)
    since = models.DateTimeField()
    record = models.ForeignKey(ConsentRecord, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    # Withdrawn until this time (a pause): the record's ``until``.
    until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "purpose"], name="consentstate_unique")]
        indexes = [models.Index(fields=["purpose", "status"], name="consentstate_purpose_status")]
