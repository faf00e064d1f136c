"""Merges of contacts: the survivorship rules, each merge with what its undo needs, and the
tombstones of the merged-away contacts (their old ids answer with the survivor)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from danhba.contacts.models import Contact

# How long a merge can be undone.
UNDO_DAYS = 90


class ExactEncoder(DjangoJSONEncoder):
    """Times to the microsecond (Django's encoder cuts them to milliseconds): undo compares a
    field with the value the merge wrote and restores the exact time."""

    def default(self, o: Any) -> Any:
        if isinstance(o, dt.datetime):
            return o.isoformat()
        return super().default(o)


class Rule(models.TextChoices):
    """How a single-valued field of the survivor is chosen among the merged contacts."""

    RECENT = "recent", _("Most recent non-empty")
    SOURCE = "source", _("Most trusted source")
    SURVIVOR = "survivor", _("The survivor's, unless empty")


class MergeSettings(models.Model):
    """The survivorship rules (one row): a rule per field ("custom.<key>" for a custom field;
    a field not named follows ``default_rule``) and the sources from most to least trusted."""

    default_rule = models.CharField(_("default rule"), max_length=10, choices=Rule.choices, default=Rule.RECENT)
    rules = models.JSONField(_("rules per field"), default=dict, blank=True)
    source_ranking = models.JSONField(_("sources, most trusted first"), default=list, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("merge settings")

    @classmethod
    def current(cls) -> MergeSettings:
        found = cls.objects.order_by("pk").first()
        return found if found is not None else cls()


class Merge(models.Model):
    """One merge of contacts into a survivor, with what undo needs: the contacts' fields before
    (``snapshot``, by contact id), the rows moved to the survivor (``moved``: table → field →
    merged-away id → row ids), the rows removed because the survivor had their twin
    (``dropped``: table → rows as values) and what each table's own handling kept (``state``)."""

    class Status(models.TextChoices):
        DONE = "done", _("merged")
        UNDONE = "undone", _("undone")

    # The id stays when the survivor goes (merged into another in turn): undo then asks for the
    # later merge to be undone first.
    survivor = models.ForeignKey(Contact, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    survivor_label = models.CharField(max_length=200, blank=True)
    merged_ids = models.JSONField(default=list)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DONE)
    rules = models.JSONField(default=dict, blank=True)
    # The survivor's fields the merge changed: attname → [before, after].
    changes = models.JSONField(default=dict, blank=True, encoder=ExactEncoder)
    snapshot = models.JSONField(default=dict, encoder=ExactEncoder)
    moved = models.JSONField(default=dict)
    dropped = models.JSONField(default=dict, encoder=ExactEncoder)
    state = models.JSONField(default=dict, encoder=ExactEncoder)
    created_at = models.DateTimeField(_("merged"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undone_at = models.DateTimeField(_("undone"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # When the personal data undo needed was removed, the undo window past
    # (``services/merge_purge.py``): ids, dates and who stay.
    purged_at = models.DateTimeField(_("personal data removed"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["survivor", "created_at"], name="quality_merge_survivor")]

    def __str__(self) -> str:
        return f"merge #{self.pk}"

    @property
    def undo_until(self) -> dt.datetime:
        return self.created_at + dt.timedelta(days=UNDO_DAYS)

    def can_undo(self, now: dt.datetime | None = None) -> bool:
        return self.status == self.Status.DONE and self.purged_at is None and (now or timezone.now()) < self.undo_until

    def label_of(self, contact_id: int) -> str:
        values: dict[str, Any] = self.snapshot.get(str(contact_id), {})
        return str(values.get("full_name") or "") or f"#{contact_id}"


class MergedContact(models.Model):
    """The tombstone of a contact merged into another: its old id and where it went. A merge of
    the survivor later moves the tombstone along (it is a row with a key to a contact)."""

    contact_id = models.BigIntegerField(primary_key=True)
    survivor = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    merge = models.ForeignKey(Merge, on_delete=models.CASCADE, related_name="tombstones")
    merged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["survivor"], name="quality_tombstone_survivor")]


class BulkMerge(models.Model):
    """A reviewed set of merges run as a background job (``services/bulk.py``): ``groups`` holds
    each merge to do (survivor, others); ``position`` is the next one, moved in the same
    transaction as that merge, so a job killed midway resumes where it stopped."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        CANCELLED = "cancelled", _("cancelled")

    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    groups = models.JSONField(default=list)
    rules = models.JSONField(default=dict, blank=True)
    position = models.PositiveIntegerField(default=0)
    merged = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # The groups that failed, each with its "error" (the merges done are in the history).
    results = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(_("started"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    @property
    def total(self) -> int:
        return len(self.groups)
