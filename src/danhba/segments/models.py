"""Segments: a condition tree (dynamic) or a hand-kept list (static), with materialised
membership, its history and its size over time."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from danhba.contacts.models import Contact


def empty_tree() -> dict[str, Any]:
    return {"op": "all", "conditions": []}


class Segment(models.Model):
    class Kind(models.TextChoices):
        DYNAMIC = "dynamic", _("Dynamic segment")
        STATIC = "static", _("Static list")

    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.DYNAMIC)
    # The condition tree (see conditions.py); empty for static lists.
    conditions = models.JSONField(_("conditions"), default=empty_tree, blank=True)
    # Derived from ``conditions`` on save (conditions.dependencies): what a change must touch
    # for this segment to need re-evaluating, and whether the passing of time alone can change it.
    depends_on = models.JSONField(default=dict, blank=True, editable=False)
    time_dependent = models.BooleanField(default=False, editable=False)
    member_count = models.PositiveIntegerField(_("members"), default=0)
    # A full refresh asked for and not finished yet (the page shows it and polls), and the error
    # of the last one that failed.
    refresh_requested_at = models.DateTimeField(null=True, blank=True)
    refresh_error = models.TextField(blank=True)
    refreshed_at = models.DateTimeField(_("last refreshed"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_static(self) -> bool:
        return self.kind == self.Kind.STATIC


class SegmentMember(models.Model):
    """Current membership. For a dynamic segment it is what the conditions matched at the last
    evaluation of that contact; for a static list it is the list."""

    id = models.BigAutoField(primary_key=True)
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="members")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="segment_memberships")
    since = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "contact"], name="segmentmember_unique")]
        indexes = [models.Index(fields=["contact", "segment"], name="segmentmember_contact")]


class SegmentChange(models.Model):
    """Membership history: one row each time a contact enters or leaves a segment."""

    class Via(models.TextChoices):
        REFRESH = "refresh", _("Full refresh")
        LIVE = "live", _("Data change")
        SCHEDULE = "schedule", _("Scheduled re-evaluation")
        MANUAL = "manual", _("By hand")
        API = "api", _("API")
        IMPORT = "import", _("Import")
        SNAPSHOT = "snapshot", _("Snapshot of a segment")

    id = models.BigAutoField(primary_key=True)
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="changes")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    entered = models.BooleanField()
    at = models.DateTimeField(default=timezone.now)
    via = models.CharField(max_length=10, choices=Via.choices)

    class Meta:
        indexes = [
            models.Index(fields=["segment", "at", "id"], name="segmentchange_segment_at"),
            models.Index(fields=["contact", "at"], name="segmentchange_contact_at"),
            # Automation listens in id order.
            models.Index(fields=["id", "segment"], name="segmentchange_feed"),
        ]


class SegmentSize(models.Model):
    """The size of a segment at the end of each day it changed (the size-over-time chart)."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="sizes")
    day = models.DateField()
    size = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "day"], name="segmentsize_unique")]


class DirtyContact(models.Model):
    """A contact whose data changed since the segments last looked at it. Writers insert here in
    their own transaction; the worker drains it (services.dirty_process). The database, not the
    job queue, holds the work, so a lost wake-up loses nothing."""

    id = models.BigAutoField(primary_key=True)
    contact_id = models.BigIntegerField()
    # What changed ("field:province", "tags", "event:Order Completed", "orders", "consent", "*"):
    # only segments that depend on one of these are re-evaluated.
    reason = models.CharField(max_length=220)
    marked_at = models.DateTimeField(default=timezone.now)
    # The worker evaluating the row (a token per dirty_process call) and until when: another
    # worker leaves the row alone until then, and takes it over after (its worker died). A new
    # change of the same contact for the same reason clears both, so the row is evaluated again.
    claim = models.CharField(max_length=32, blank=True, default="")
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact_id", "reason"], name="dirtycontact_unique")]
