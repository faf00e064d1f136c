"""Consent ledger and audit log. Both are insert-only: the ORM refuses to change or delete their
rows, and the database refuses too (triggers in the migrations: UPDATE and DELETE on
PostgreSQL; UPDATE on SQLite, whose test-database flush must still be able to empty tables),
so a record once written is proof."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from danhba.contacts.models import Contact, LabelledChoice


class ImmutableRowError(Exception):
    pass


class InsertOnlyQuerySet(models.QuerySet[Any]):
    def update(self, **kwargs: Any) -> int:
        raise ImmutableRowError("insert-only rows cannot be changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ImmutableRowError("insert-only rows cannot be deleted")


class InsertOnlyModel(models.Model):
    objects = InsertOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ImmutableRowError(f"{type(self).__name__} rows cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ImmutableRowError(f"{type(self).__name__} rows cannot be deleted")


class ConsentPurpose(LabelledChoice):
    description = models.TextField(_("description"), blank=True)

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

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "purpose"], name="consentstate_unique")]
        indexes = [models.Index(fields=["purpose", "status"], name="consentstate_purpose_status")]


class AuditEvent(InsertOnlyModel):
    class Action(models.TextChoices):
        CREATE = "create", _("created")
        UPDATE = "update", _("changed")
        DELETE = "delete", _("deleted")
        VIEW = "view", _("opened")
        EXPORT = "export", _("exported")
        LOGIN = "login", _("logged in")
        LOGIN_FAILED = "login_failed", _("failed to log in")
        LOGOUT = "logout", _("logged out")

    class Via(models.TextChoices):
        UI = "ui", _("Web UI")
        API = "api", "API"
        CLI = "cli", _("Command line")
        JOB = "job", _("Background job")

    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # Who it was at the time, kept if the user is later deleted.
    actor_label = models.CharField(max_length=254, blank=True)
    via = models.CharField(max_length=5, choices=Via.choices)
    action = models.CharField(max_length=20, choices=Action.choices)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=64, blank=True)
    object_label = models.CharField(max_length=254, blank=True)
    # Not a foreign key: the trail must outlive the contact it is about.
    contact_id = models.BigIntegerField(null=True, blank=True)
    changes = models.JSONField(default=dict, blank=True)  # {"field": [before, after]}
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["contact_id", "at"], name="audit_contact_at"),
            models.Index(fields=["at", "id"], name="audit_at_id"),
            models.Index(fields=["actor", "at"], name="audit_actor_at"),
        ]
