"""Scheduled cleaning (issue 16): a ``CleaningJob`` says what to clean and how often; each
``CleaningRun`` is first a preview (counts and sample rows of what it would change), then,
when a person starts it, the run itself, with progress kept in the row (a cursor over contact
ids) so it survives a restart and can be left and come back to; every change it made is a
``CleaningChange`` linked to its contact. ``ContactArchive`` is how a long-dead contact is
archived: a row here and the "archived" tag, both taken back by a restore; nothing of the
contact or its history is deleted."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from danhba.contacts.models import Contact


class CleaningJob(models.Model):
    class Action(models.TextChoices):
        NORMALISE = "normalise", _("Normalise names, emails and phones again")
        EMAIL_TYPOS = "email_typos", _("Fix known email domain typos (gmial.com → gmail.com)")
        FLAG = "flag_decayed", _("Tag contacts that need verification")
        ARCHIVE = "archive_dead", _("Archive long-dead contacts")

    class Frequency(models.TextChoices):
        MONTHLY = "monthly", _("Monthly")
        QUARTERLY = "quarterly", _("Quarterly")
        YEARLY = "yearly", _("Yearly")
        MANUAL = "manual", _("Only when started by hand")

    name = models.CharField(_("name"), max_length=120)
    actions = models.JSONField(_("actions"), default=list)
    frequency = models.CharField(_("frequency"), max_length=10, choices=Frequency.choices, default=Frequency.MONTHLY)
    # Scheduled runs preview first; with auto_apply they go on to change what they previewed.
    auto_apply = models.BooleanField(_("apply without review"), default=False)
    archive_after_months = models.PositiveSmallIntegerField(_("archive after (months without activity)"), default=24)
    is_active = models.BooleanField(_("active"), default=True)
    next_run_at = models.DateTimeField(_("next run"), null=True, blank=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class CleaningRun(models.Model):
    class Status(models.TextChoices):
        PREVIEWING = "previewing", _("Preparing the preview")
        PREVIEW = "preview", _("Preview ready")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")
        FAILED = "failed", _("Failed")

    ACTIVE = (Status.PREVIEWING, Status.RUNNING)

    job = models.ForeignKey(CleaningJob, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PREVIEWING)
    actions = models.JSONField(default=list)
    archive_after_months = models.PositiveSmallIntegerField(default=24)
    # Contacts walked in id order: the last id done, of how many.
    cursor = models.BigIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    # Preview: action → contacts it would change, and up to SAMPLE rows per action.
    preview_counts = models.JSONField(default=dict)
    preview_sample = models.JSONField(default=dict)
    # Run: action → contacts changed (and refused, with why).
    counts = models.JSONField(default=dict)
    error = models.TextField(blank=True)
    scheduled = models.BooleanField(default=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    run_token = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="cleaningrun_status")]

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, round(100 * self.done / self.total))


class CleaningChange(models.Model):
    """One change a run made to one contact; ``contact`` is kept null when the contact is gone."""

    run = models.ForeignKey(CleaningRun, on_delete=models.CASCADE, related_name="changes")
    contact = models.ForeignKey(Contact, null=True, on_delete=models.SET_NULL, related_name="+")
    label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=20, choices=CleaningJob.Action.choices)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["run", "action", "id"], name="cleaningchange_run")]


class ContactArchive(models.Model):
    """An archived contact (reversible: :func:`services.cleaning.contact_restore`)."""

    contact = models.OneToOneField(Contact, primary_key=True, on_delete=models.CASCADE, related_name="archive")
    run = models.ForeignKey(CleaningRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    archived_at = models.DateTimeField(default=timezone.now, db_index=True)
    seen_at = models.DateTimeField(null=True, blank=True)
