"""Duplicate detection: the trained model, its runs, and the pairs of contacts that may be one
person (the review queue). Quality owns "these two may be the same person": the identity
resolver's ``tracking.SuspectedDuplicate`` rows are read into pairs here (decision 0016)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from danhba.contacts.models import Contact


class DuplicateSettings(models.Model):
    """The one row of duplicate detection's settings and trained model (``key="default"``)."""

    key = models.CharField(max_length=20, unique=True, default="default")
    # Splink's model as JSON (comparisons with their trained m and u values, the prior);
    # empty until trained. The nightly run and the real-time check read it, never train.
    params = models.JSONField(default=dict, blank=True)
    trained_at = models.DateTimeField(null=True, blank=True)
    trained_contacts = models.PositiveIntegerField(default=0)
    # Pairs at or above it enter the review queue.
    review_threshold = models.FloatField(_("review threshold"), default=0.8)
    # Pairs at or above it are merged without review; null: never.
    auto_merge_threshold = models.FloatField(_("auto-merge threshold"), null=True, blank=True)
    # The last tracking.SuspectedDuplicate row read into pairs (that table is identity
    # resolution's outbox; quality keeps the pairs).
    identity_cursor = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "duplicate settings"

    def __str__(self) -> str:
        return f"duplicate settings ({'trained' if self.params else 'untrained'})"

    @property
    def is_trained(self) -> bool:
        return bool(self.params.get("comparisons"))


class DuplicateRun(models.Model):
    """One batch run: train (then predict) or predict only. A job is only its wake-up call:
    the run row says what to do and how far it got."""

    class Kind(models.TextChoices):
        TRAIN = "train", _("Train and find")
        PREDICT = "predict", _("Find duplicates")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)
    step = models.CharField(max_length=40, blank=True)
    contacts = models.PositiveIntegerField(default=0)
    pairs_found = models.PositiveIntegerField(default=0)
    pairs_new = models.PositiveIntegerField(default=0)
    auto_merged = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)


class DuplicatePair(models.Model):
    """Two contacts that may be one person. ``contact_a`` has the smaller id. A pair marked
    "not a duplicate" stays, so no later run suggests it again."""

    class Status(models.TextChoices):
        OPEN = "open", _("To review")
        NOT_DUPLICATE = "not_duplicate", _("Not a duplicate")
        MERGED = "merged", _("Merged")

    class FoundBy(models.TextChoices):
        MODEL = "model", _("Batch run")
        REALTIME = "realtime", _("New contact check")
        IDENTITY = "identity", _("Identity resolution")

    contact_a = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    contact_b = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+", db_index=False)
    probability = models.FloatField(_("match probability"), default=0.0)
    match_weight = models.FloatField(default=0.0)
    # Comparison name → index of the level that held (``comparisons.COMPARISONS``).
    levels = models.JSONField(default=dict, blank=True)
    # What identity resolution saw (reason → details), when it raised the pair.
    evidence = models.JSONField(default=dict, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    found_by = models.CharField(max_length=10, choices=FoundBy.choices, default=FoundBy.MODEL)
    # The smallest contact id of the connected group of open pairs it belongs to.
    cluster = models.BigIntegerField(null=True, blank=True)
    found_at = models.DateTimeField(default=timezone.now)
    scored_at = models.DateTimeField(default=timezone.now)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact_a", "contact_b"], name="duplicatepair_unique"),
            models.CheckConstraint(condition=Q(contact_a__lt=models.F("contact_b")), name="duplicatepair_order"),
        ]
        indexes = [
            # The queue: by status, most likely first, keyset on (probability, id).
            models.Index(fields=["status", "probability", "id"], name="duplicatepair_queue"),
            models.Index(fields=["contact_b", "contact_a"], name="duplicatepair_b"),
            models.Index(fields=["cluster", "status"], name="duplicatepair_cluster"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_a_id} ~ {self.contact_b_id} ({self.probability:.3f})"

    def other(self, contact_id: int) -> int:
        return int(self.contact_b_id if contact_id == self.contact_a_id else self.contact_a_id)

    def as_key(self) -> tuple[int, int]:
        return (int(self.contact_a_id), int(self.contact_b_id))


def ordered(a: Any, b: Any) -> tuple[int, int]:
    """A pair's key: the smaller id first."""
    x, y = int(a), int(b)
    return (x, y) if x < y else (y, x)
