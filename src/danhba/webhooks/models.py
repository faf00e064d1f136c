"""Outbound webhooks: endpoints that subscribe to topics, and one delivery row per event sent
to one endpoint. The delivery rows are the queue (the database is the source of truth; a Huey
job only wakes the sender) and the delivery log users read."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from danhba.core.reasons import Reason

SECRET_PREFIX = "whsec_"


def generate_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def generate_event_id() -> str:
    return "evt_" + uuid.uuid4().hex


class Topic(models.TextChoices):
    CONTACT_CREATED = "contact.created", _("A contact was created")
    CONTACT_UPDATED = "contact.updated", _("A contact was changed")
    CONTACT_MERGED = "contact.merged", _("Contacts were merged into one")
    EVENT_RECEIVED = "event.received", _("An event was received from a source")
    ORDER_CREATED = "order.created", _("An order was recorded")


# Sent only by the "Send test" button; no endpoint subscribes to it.
PING = "ping"


class WebhookEndpointQuerySet(models.QuerySet["WebhookEndpoint"]):
    def active(self) -> WebhookEndpointQuerySet:
        return self.filter(is_active=True)


class WebhookEndpoint(models.Model):
    """A URL danhba POSTs signed events to.

    The secret is stored as it is, not hashed: signing needs it. It is protected like the rest of
    the database (and its backups); pages and the API show it only to users whose role may edit
    webhooks, on an explicit reveal that is written to the audit log. After a rotation the
    previous secret keeps signing (a second ``v1=``) until ``previous_secret_expires_at``, so
    receivers can switch without dropping events.
    """

    url = models.URLField(_("URL"), max_length=2000)
    description = models.CharField(_("description"), max_length=500, blank=True)
    topics = models.JSONField(_("topics"), default=list)
    secret = models.CharField(max_length=100, default=generate_secret)
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    disabled_at = models.DateTimeField(_("disabled"), null=True, blank=True)
    disabled_reason = models.CharField(_("why disabled"), max_length=500, blank=True)
    # The same reason untranslated (``core.reasons.Reason.to_json``), shown in each reader's
    # language; empty for endpoints disabled before it was kept (their text is shown as it is).
    disabled_message = models.JSONField(default=dict, blank=True)
    # Failed attempts in a row (any delivery), and since when none has succeeded: the
    # automatic disable looks at both.
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("changed"), default=timezone.now)

    objects = WebhookEndpointQuerySet.as_manager()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url

    @property
    def is_failing(self) -> bool:
        return self.is_active and self.consecutive_failures > 0

    @property
    def disabled_text(self) -> str:
        """Why it was disabled, in the active language."""
        return str(Reason.from_json(self.disabled_message)) if self.disabled_message else self.disabled_reason

    @property
    def secret_hint(self) -> str:
        """Enough of the secret to tell which one a receiver holds, not enough to sign."""
        return f"{self.secret[: len(SECRET_PREFIX) + 4]}…"

    def signing_secrets(self, now: datetime | None = None) -> list[str]:
        now = now or timezone.now()
        keys = [self.secret]
        if self.previous_secret and self.previous_secret_expires_at and self.previous_secret_expires_at > now:
            keys.append(self.previous_secret)
        return keys

    def topic_labels(self) -> list[str]:
        labels = dict(Topic.choices)
        return [str(labels.get(t, t)) for t in self.topics]


class WebhookDelivery(models.Model):
    """One event for one endpoint: the queue row the sender claims, and the log entry.

    ``next_attempt_at`` is set while the delivery still has to be sent (first try or a retry) and
    cleared once it succeeded or was given up; a claimed delivery has it pushed one lease into
    the future, so a crashed sender's work comes back by itself.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed, will retry")
        GAVE_UP = "gave_up", _("gave up")

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    topic = models.CharField(_("topic"), max_length=40)
    event_id = models.CharField(_("event id"), max_length=40, unique=True, default=generate_event_id)
    # The whole body as sent: {"id", "topic", "created_at", "data"}; a retry sends it unchanged.
    payload = models.JSONField(_("payload"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    last_error = models.CharField(_("error"), max_length=500, blank=True)
    # ``last_error`` untranslated (``core.reasons.Reason.to_json``): the sender runs in no
    # reader's language; empty for older rows (their text is shown as it is).
    last_error_message = models.JSONField(default=dict, blank=True)
    last_request_headers = models.JSONField(default=dict, blank=True)
    last_response_body = models.TextField(_("response body"), blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The sender's "what is due" scan: only rows still to send are in it.
            models.Index(
                fields=["next_attempt_at"], name="webhooks_delivery_due", condition=Q(next_attempt_at__isnull=False)
            ),
            # The delivery log of one endpoint, newest first, and its status filter.
            models.Index(fields=["endpoint", "created_at", "id"], name="webhooks_delivery_log"),
            models.Index(fields=["endpoint", "status", "created_at", "id"], name="webhooks_delivery_status"),
            # The nightly purge.
            models.Index(fields=["created_at"], name="webhooks_delivery_created"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} → {self.endpoint_id} ({self.event_id})"

    @property
    def error_text(self) -> str:
        """Why the last attempt failed, in the active language ("" if it did not)."""
        return str(Reason.from_json(self.last_error_message)) if self.last_error_message else self.last_error

    @property
    def is_final(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.GAVE_UP)

    @property
    def can_resend(self) -> bool:
        return self.status in (self.Status.FAILED, self.Status.GAVE_UP, self.Status.SUCCEEDED)

    def payload_text(self) -> str:
        import json

        return json.dumps(self.payload, ensure_ascii=False, indent=2)

    def request_headers_items(self) -> list[tuple[str, Any]]:
        return sorted((self.last_request_headers or {}).items())
