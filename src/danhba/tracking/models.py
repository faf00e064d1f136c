"""Event sources, the events they send (Segment spec), and the identity graph behind them."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import connection, models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from danhba.contacts.models import Contact


def hash_write_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class SourceQuerySet(models.QuerySet["Source"]):
    def active(self) -> SourceQuerySet:
        return self.filter(disabled_at__isnull=True)


class Source(models.Model):
    """A system that sends events (a website, a backend, an app), with its own write key.
    Only a hash of the key is stored, like ``accounts.ApiKey``."""

    PREFIX = "dbw_"

    class Kind(models.TextChoices):
        SERVER = "server", _("Server")
        WEBSITE = "website", _("Website")
        OTHER = "other", _("Other")
        # danhba's own apps writing events about what they did (email sent, opened, clicked):
        # no write key (the hash is no SHA-256 hex, so no key matches it), not listed in the
        # settings, written through ``services/server.py``.
        INTERNAL = "internal", _("danhba itself")

    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.SERVER)
    # First characters of the key, shown in lists so people can tell sources apart.
    key_prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    disabled_at = models.DateTimeField(_("disabled"), null=True, blank=True)

    objects = SourceQuerySet.as_manager()
    _lookup_sql: str | None = None

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @classmethod
    def generate_key(cls) -> tuple[str, str, str]:
        """Return (raw key, display prefix, hash)."""
        raw = cls.PREFIX + secrets.token_urlsafe(24)
        return raw, raw[:12], hash_write_key(raw)

    @classmethod
    def lookup(cls, raw: str) -> Source | None:
        """The active source a write key belongs to, or None."""
        if not raw or len(raw) > 200:
            return None
        # On every event request: a raw SELECT, without compiling an ORM query each time.
        if cls._lookup_sql is None:
            quote = connection.ops.quote_name
            cls._lookup_sql = (
                f"SELECT * FROM {quote(cls._meta.db_table)} "  # noqa: S608
                f"WHERE {quote('key_hash')} = %s AND {quote('disabled_at')} IS NULL"
            )
        return next(iter(cls.objects.raw(cls._lookup_sql, [hash_write_key(raw)])), None)

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None


class Event(models.Model):
    """One Segment call. The biggest table: a 64-bit key, no foreign key but the source and the
    contact, JSON for everything free-form, and only the indexes the reads need.

    On PostgreSQL it is partitioned by month of ``timestamp``, its primary key is (id, timestamp)
    while Django keeps ``id`` as the key (ids come from one sequence, so they stay unique), and no
    other table may hold a foreign key to it (a key would have to name both columns)."""

    class Type(models.TextChoices):
        IDENTIFY = "identify", _("Identify")
        TRACK = "track", _("Track")
        PAGE = "page", _("Page")
        SCREEN = "screen", _("Screen")
        GROUP = "group", _("Group")
        ALIAS = "alias", _("Alias")

    id = models.BigAutoField(primary_key=True)
    # PROTECT: sources are disabled, never deleted while they have events.
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="+")
    message_id = models.CharField(max_length=200)
    type = models.CharField(max_length=10, choices=Type.choices)
    # Event name for track, page/screen name, group id for group, empty otherwise.
    name = models.CharField(max_length=200, blank=True)
    # CASCADE, not SET_NULL: events carry personal data (traits, IP, properties), so erasing a
    # contact must erase them; Django deletes them with one DELETE (no signals, no dependants)
    # instead of rewriting millions of rows to NULL that would still be identifiable by user id.
    # No index of its own: (contact, timestamp) serves every lookup by contact.
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    anonymous_id = models.CharField(max_length=200, blank=True)
    user_id = models.CharField(max_length=200, blank=True)
    # When it happened, corrected for the sender's clock (see services.corrected_timestamp).
    timestamp = models.DateTimeField()
    original_timestamp = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField()
    properties = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)
    traits = models.JSONField(default=dict, blank=True)

    class Meta:
        # No unique constraint: on PostgreSQL the table is partitioned by month of ``timestamp``
        # (see partitions.py), where a unique index must include the partition key, and a retry's
        # corrected timestamp can differ. Idempotency lives in EventMessage instead.
        indexes = [
            models.Index(fields=["contact", "timestamp"], name="event_contact_time"),
            # Covering for segments: "did X ≥ N times in a period" counts per contact from the
            # index alone, without reading the rows.
            models.Index(fields=["name", "timestamp", "contact"], name="event_name_time_contact"),
            # Only anonymous events are ever looked up by anonymous id (to move them to a
            # contact), so identified rows stay out of this index.
            models.Index(fields=["anonymous_id"], name="event_anon_unassigned", condition=Q(contact__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.name} ({self.message_id})"


class EventMessage(models.Model):
    """The messageIds seen per source in the last ``EVENT_DEDUPE_DAYS`` days: the idempotency key
    of the event API. ``events_ingest`` inserts here first (ON CONFLICT DO NOTHING RETURNING), in
    the transaction that stores the events, and stores only the messages whose row it inserted.
    Segment's own window is 24 hours; rows older than the window are purged nightly."""

    id = models.BigAutoField(primary_key=True)
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    message_id = models.CharField(max_length=200)
    received_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "message_id"], name="event_message_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}:{self.message_id}"


class EventRetention(models.Model):
    """How long events are kept, per event type and/or name. The most specific rule wins (type
    and name, then name, then type); the rule with neither is the default for everything else.
    ``keep_months`` NULL keeps events forever."""

    event_type = models.CharField(_("event type"), max_length=10, choices=Event.Type.choices, blank=True)
    name = models.CharField(_("event name"), max_length=200, blank=True)
    keep_months = models.PositiveIntegerField(_("keep (months)"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event_type", "name"], name="event_retention_unique")]

    def __str__(self) -> str:
        return self.label

    @property
    def is_default(self) -> bool:
        return not self.event_type and not self.name

    @property
    def specificity(self) -> int:
        return (2 if self.name else 0) + (1 if self.event_type else 0)

    @property
    def label(self) -> str:
        if self.is_default:
            return str(_("All other events"))
        parts = []
        if self.event_type:
            parts.append(str(Event.Type(self.event_type).label))
        if self.name:
            parts.append(f"“{self.name}”")
        return " ".join(parts)

    def matches(self, event_type: str, name: str) -> bool:
        return (not self.event_type or self.event_type == event_type) and (not self.name or self.name == name)


class EventPurge(models.Model):
    """One run of the event purge: when, and what it deleted per rule, per dropped partition
    and from the dedupe window. ``finished_at`` stays empty if the run was interrupted."""

    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    via = models.CharField(max_length=10, default="job")
    deleted = models.BigIntegerField(default=0)
    messages_deleted = models.BigIntegerField(default=0)
    # {"rules": [{"rule": id, "label", "keep_months", "cutoff", "deleted"}],
    #  "partitions": [{"name", "from", "to", "rows"}]}
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"purge {self.started_at:%Y-%m-%d %H:%M}: {self.deleted}"


class AnonymousIdentity(models.Model):
    """A device or browser id (Segment ``anonymousId``, or an alias ``previousId``) known to
    belong to a contact. One id, one contact: the first identified visitor keeps it."""

    anonymous_id = models.CharField(max_length=200, unique=True)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "anonymous identities"

    def __str__(self) -> str:
        return f"{self.anonymous_id} → {self.contact_id}"


class SuspectedDuplicate(models.Model):
    """Two identified contacts that one event says are the same person. Never merged here:
    the data-quality review queue decides. ``contact_a`` has the smaller id."""

    class Reason(models.TextChoices):
        EMAIL = "email", _("An event gave the email of another contact")
        PHONE = "phone", _("An event gave the phone of another contact")
        ANONYMOUS_ID = "anonymous_id", _("Same device (anonymous id) as another contact")
        ALIAS = "alias", _("Alias between two contacts")

    contact_a = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    contact_b = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    # The event that raised it and the identifiers involved, for the reviewer.
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact_a", "contact_b", "reason"], name="suspected_duplicate_unique"),
            models.CheckConstraint(condition=Q(contact_a__lt=models.F("contact_b")), name="suspected_duplicate_order"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_a_id} ~ {self.contact_b_id} ({self.reason})"


def shop_currency() -> str:
    """Migration 0004 (which made the order tables, now the orders app's) refers to this."""
    return settings.SHOP_CURRENCY


class EventInbox(models.Model):
    """One accepted request of the event API, waiting for the worker (``inbox.py``): its validated
    messages as JSON text. On SQLite the table lives in a database file of its own (the
    ``events_inbox`` alias, ``core/db.py``), hence no foreign key constraint to its source.
    Claimed by a worker with ``claim_token`` until ``claimed_until``; deleted once stored; a
    request that keeps failing is parked with ``failed_at`` and its error, never dropped."""

    id = models.BigAutoField(primary_key=True)
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="+", db_constraint=False)
    received_at = models.DateTimeField()
    messages = models.TextField()
    count = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    claim_token = models.CharField(max_length=32, null=True, blank=True)
    # Claimed by a worker (or waiting after a failure) until then; due again afterwards.
    claimed_until = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    # Which drainer stores it (``inbox.partition_of``): 0 unless ``EVENT_DRAINERS`` > 1.
    partition = models.PositiveSmallIntegerField(default=0)

    def __str__(self) -> str:
        return f"inbox {self.pk} ({self.count} messages)"
