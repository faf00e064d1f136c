"""Event sources, the events they send (Segment spec), and the identity graph behind them."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
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
        return cls.objects.active().filter(key_hash=hash_write_key(raw)).first()

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None


class Event(models.Model):
    """One Segment call. The biggest table: a 64-bit key, no foreign key but the source and the
    contact, JSON for everything free-form, and only the indexes the reads need."""

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
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
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
        constraints = [
            # Idempotency: an SDK retry with the same messageId never doubles an event.
            models.UniqueConstraint(fields=["source", "message_id"], name="event_source_message_unique"),
        ]
        indexes = [
            models.Index(fields=["contact", "timestamp"], name="event_contact_time"),
            models.Index(fields=["name", "timestamp"], name="event_name_time"),
            # Only anonymous events are ever looked up by anonymous id (to move them to a
            # contact), so identified rows stay out of this index.
            models.Index(fields=["anonymous_id"], name="event_anon_unassigned", condition=Q(contact__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.name} ({self.message_id})"


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
