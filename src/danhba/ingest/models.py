"""Imports: the file, how its columns map to contact fields, how far the job got, what it did
to each contact (so it can be undone) and every row it rejected or warned about."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from danhba.contacts.models import Source
from danhba.ingest.reasons import Reason, reason_of
from danhba.privacy.models import ConsentPurpose

UNDO_DAYS = 30


class Mode(models.TextChoices):
    CREATE_UPDATE = "create_update", _("Create new contacts and update existing ones")
    CREATE_ONLY = "create_only", _("Only create new contacts")
    UPDATE_ONLY = "update_only", _("Only update existing contacts")


class UpdatePolicy(models.TextChoices):
    OVERWRITE = "overwrite", _("Overwrite with the file's values")
    FILL_EMPTY = "fill_empty", _("Only fill fields that are empty")


class LegalBasis(models.TextChoices):
    # Decree 13/2023/ND-CP: consent is the rule; the exceptions are its Article 17 cases.
    CONSENT = "consent", _("Consent of the person")
    CONTRACT = "contract", _("Performing a contract with the person")
    LEGAL_OBLIGATION = "legal_obligation", _("Required by law")
    VITAL_INTEREST = "vital_interest", _("Protecting someone's life or health")
    PUBLIC_INTEREST = "public_interest", _("Public interest or authority")


class MatchKey(models.TextChoices):
    EXTERNAL_ID = "external_id", _("External id")
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")


DEFAULT_MATCH_KEYS = [MatchKey.EXTERNAL_ID.value, MatchKey.EMAIL.value, MatchKey.PHONE.value]


class SavedMapping(models.Model):
    """A column mapping and its options kept under a name, for files that come every month."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    columns = models.JSONField(_("columns"), default=dict)  # {header: target}
    options = models.JSONField(_("options"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Import(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Not started")
        QUEUED = "queued", _("Waiting to start")
        RUNNING = "running", _("Running")
        CANCELLING = "cancelling", _("Cancelling")
        CANCELLED = "cancelled", _("Cancelled")
        DONE = "done", _("Finished")
        FAILED = "failed", _("Failed")
        UNDOING = "undoing", _("Undoing")
        UNDONE = "undone", _("Undone")

    ACTIVE = (Status.QUEUED, Status.RUNNING, Status.CANCELLING, Status.UNDOING)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    via = models.CharField(max_length=5, default="ui")  # AuditEvent.Via of whoever started it
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # --- the file ---------------------------------------------------------------------------
    file = models.FileField(upload_to="imports/%Y/%m/", max_length=255)
    file_name = models.CharField(_("file"), max_length=255)
    file_size = models.BigIntegerField(default=0)
    format = models.CharField(_("format"), max_length=10, blank=True)
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)  # chosen; "" = detected
    detected_encoding = models.CharField(max_length=20, blank=True)
    sheet = models.CharField(_("sheet"), max_length=100, blank=True)
    delimiter = models.CharField(max_length=2, blank=True)
    headers = models.JSONField(default=list, blank=True)
    # --- what to do -------------------------------------------------------------------------
    columns = models.JSONField(default=dict, blank=True)  # {header: target}
    options = models.JSONField(default=dict, blank=True)
    mode = models.CharField(_("mode"), max_length=20, choices=Mode.choices, default=Mode.CREATE_UPDATE)
    update_policy = models.CharField(
        _("on update"), max_length=20, choices=UpdatePolicy.choices, default=UpdatePolicy.FILL_EMPTY
    )
    match_keys = models.JSONField(default=list, blank=True)
    # --- provenance: where the data came from and why danhba may hold it ----------------------
    source = models.CharField(_("data source"), max_length=20, choices=Source.choices, default=Source.IMPORT)
    source_detail = models.CharField(
        _("where the data came from"),
        max_length=255,
        blank=True,
        help_text=_("E.g. 'Registration forms, Hà Nội fair, October 2026'."),
    )
    legal_basis = models.CharField(
        _("legal basis"), max_length=20, choices=LegalBasis.choices, default=LegalBasis.CONSENT
    )
    consent_purposes: models.ManyToManyField[ConsentPurpose, Any] = models.ManyToManyField(
        ConsentPurpose,
        blank=True,
        related_name="+",
        verbose_name=_("consent given for"),
        help_text=_("Purposes every person in the file consented to; recorded in the consent ledger."),
    )
    consent_proof = models.CharField(
        _("proof of consent"), max_length=255, blank=True, help_text=_("Where the signed forms or records are kept.")
    )
    dry_run = models.BooleanField(_("dry run"), default=False)
    # --- progress ---------------------------------------------------------------------------
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.DRAFT)
    rows_estimate = models.BigIntegerField(null=True, blank=True)
    # The last source line whose batch committed: a restarted job carries on after it.
    line_done = models.BigIntegerField(default=0)
    rows_done = models.BigIntegerField(default=0)
    created = models.BigIntegerField(_("created"), default=0)
    updated = models.BigIntegerField(_("updated"), default=0)
    unchanged = models.BigIntegerField(_("unchanged"), default=0)
    merged = models.BigIntegerField(_("merged in file"), default=0)
    skipped = models.BigIntegerField(_("skipped"), default=0)
    rejected = models.BigIntegerField(_("rejected"), default=0)
    warned = models.BigIntegerField(_("with warnings"), default=0)
    run_token = models.CharField(max_length=32, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)  # why it failed, in English (kept as written)
    # The same reason untranslated ({"msgid", "params"}): shown in the reader's language (failure).
    error_message = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.file_name}"

    @property
    def failure(self) -> str:
        """Why the import failed, in the active language ("" when it did not)."""
        return str(Reason.from_json(self.error_message)) if self.error_message else self.error

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def undo_until(self) -> dt.datetime | None:
        if self.finished_at is None:
            return None
        return self.finished_at + dt.timedelta(days=UNDO_DAYS)

    @property
    def can_undo(self) -> bool:
        until = self.undo_until
        return (
            not self.dry_run
            and self.status in (self.Status.DONE, self.Status.CANCELLED, self.Status.FAILED)
            and until is not None
            and timezone.now() < until
        )

    @property
    def percent(self) -> int:
        if self.status in (self.Status.DONE, self.Status.UNDONE):
            return 100
        if not self.rows_estimate:
            return 0
        return min(99, int(100 * self.rows_done / self.rows_estimate))


class ImportIssue(models.Model):
    """A rejected row (severity error: nothing of it was applied) or a warning on a loaded row."""

    class Severity(models.TextChoices):
        ERROR = "error", _("Rejected")
        WARNING = "warning", _("Warning")

    run = models.ForeignKey(Import, on_delete=models.CASCADE, related_name="issues")
    line = models.BigIntegerField(_("line"))
    severity = models.CharField(_("severity"), max_length=8, choices=Severity.choices)
    column = models.CharField(_("column"), max_length=255, blank=True)
    value = models.TextField(_("value"), blank=True)
    reason = models.TextField(_("reason"))  # in English, as the catalogue's msgids are
    # The reason untranslated ({"msgid", "params"}), translated when shown; null on issues
    # stored before it existed, whose English ``reason`` is read instead.
    message = models.JSONField(null=True, blank=True)
    # The whole source row of a rejected line, for the error-report CSV to fix and re-import.
    row = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["line", "id"]
        indexes = [models.Index(fields=["run", "severity", "line"], name="importissue_run_line")]

    @property
    def why(self) -> Reason:
        """The reason, to show with ``str()`` in the reader's language."""
        return Reason.from_json(self.message) if self.message else reason_of(self.reason)


class ImportChange(models.Model):
    """What one import did to one existing contact, enough to undo it: changed these fields from
    these values (``before``) and added these emails/phones/tags/… (``added``). The contacts an
    import creates are kept as ranges of ids (:class:`ImportCreated`); ``created`` rows are
    those of imports run before the ranges existed (migration 0005), still undone as before."""

    class Action(models.TextChoices):
        CREATED = "created", _("created")
        UPDATED = "updated", _("updated")

    # No index of its own: importchange_unique (run, contact_id) leads with it.
    run = models.ForeignKey(Import, on_delete=models.CASCADE, related_name="changes", db_index=False)
    # Not a foreign key: the record must survive the contact's deletion (undo then skips it).
    contact_id = models.BigIntegerField()
    action = models.CharField(max_length=8, choices=Action.choices)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    added = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "contact_id"], name="importchange_unique")]
        indexes = [models.Index(fields=["contact_id"], name="importchange_contact")]


class ImportCreatedQuerySet(models.QuerySet["ImportCreated"]):
    def holding(self, contact_id: int) -> ImportCreatedQuerySet:
        """The range that holds this contact's id (the import that created it). Ranges never
        overlap (a contact is created once), so it is the first range ending at or after the id,
        if that one starts at or before it: one probe of the (last_id, first_id) index, where
        ``last_id >= id AND first_id <= id`` reads every range above a low id."""
        nearest = self.filter(last_id__gte=contact_id).order_by("last_id").values("pk")[:1]
        return self.filter(pk__in=models.Subquery(nearest), first_id__lte=contact_id)


class ImportCreated(models.Model):
    """Contacts one import created: the ids ``first_id`` to ``last_id``, both included. A batch
    allocates its new contacts' ids together (``core.bulk.allocate_ids``), so its contacts are one
    range, or a few when another writer took ids in between on PostgreSQL: one row per range
    instead of one per contact (decision 0015). Undo deletes the range's contacts that still
    exist and shrinks the range as it commits, so a restarted undo carries on."""

    run = models.ForeignKey(Import, on_delete=models.CASCADE, related_name="created_ranges")
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()

    objects = ImportCreatedQuerySet.as_manager()

    class Meta:
        # The contact page asks which import created a contact: the first range with last_id >= id.
        indexes = [models.Index(fields=["last_id", "first_id"], name="importcreated_ids")]

    @property
    def size(self) -> int:
        return self.last_id - self.first_id + 1


def id_ranges(ids: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted ids as (first, last) ranges of consecutive ids: [1, 2, 3, 7] → [(1, 3), (7, 7)]."""
    ranges: list[tuple[int, int]] = []
    for cid in sorted(ids):
        if ranges and cid == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], cid)
        elif not ranges or cid > ranges[-1][1]:
            ranges.append((cid, cid))
    return ranges


def import_proof(run: Import) -> str:
    """What the consent ledger records as the proof of statements an import makes. Not
    translated: undo compares it with what was stored, whatever language each ran in."""
    return run.consent_proof or f"Import #{run.pk}: {run.file_name}"
