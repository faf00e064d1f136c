"""Outbound webhooks: managing endpoints, emitting events, and sending them.

How an event travels:

1. A write somewhere calls :func:`emit` (or one of the helpers below) inside its transaction.
   If no active endpoint subscribes to the topic — known from a per-process cache — that is the
   end of it, without a query. Otherwise one :class:`WebhookDelivery` row per subscribed
   endpoint is inserted in the same transaction (a rolled-back write sends nothing), and a Huey
   job is queued after the commit to wake the sender.
2. :func:`deliveries_send_due` (that job, and a minutely one for retries) claims due rows — on
   PostgreSQL with ``SELECT … FOR UPDATE SKIP LOCKED``, on SQLite with one conditional UPDATE —
   by pushing ``next_attempt_at`` one lease into the future under a claim token, so two senders
   never send the same delivery at the same time, and a sender that dies mid-way only delays it.
3. The claimed rows are POSTed in parallel (:mod:`danhba.webhooks.transport`), signed
   (:mod:`danhba.webhooks.signing`); the outcome is written back: success on a 2xx, otherwise a
   retry after a growing, jittered delay (``RETRY_DELAYS``), and after the last one the delivery
   is given up.
4. An endpoint that has failed ``WEBHOOKS_DISABLE_AFTER_FAILURES`` attempts in a row and not
   succeeded for ``WEBHOOKS_DISABLE_AFTER_HOURS`` is disabled automatically, with the reason;
   its outstanding deliveries are given up (they can be resent when it is enabled again).

Delivery is at least once: a receiver deduplicates with the ``Danhba-Event-Id`` header.
"""

from __future__ import annotations

import json
import random
import secrets
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F, Prefetch
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from danhba.accounts import permissions as perms
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.contacts.changes import ContactsChange
from danhba.core import reasons
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput
from danhba.core.normalize import clean_text
from danhba.core.reasons import Reason
from danhba.tracking.hooks import StoredEvents
from danhba.webhooks import signing, transport
from danhba.webhooks.models import (
    PING,
    Topic,
    WebhookDelivery,
    WebhookEndpoint,
    generate_event_id,
    generate_secret,
)

# Waits before the 2nd, 3rd … attempt: 8 attempts spread over about 24 hours.
RETRY_DELAYS = (60, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 8 * 3600, 8 * 3600)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.1  # ± a tenth of the delay, so a receiver that was down is not hit by every retry at once
# How long a claimed delivery stays invisible to other senders: longer than any one send can take.
LEASE = timedelta(minutes=3)
CLAIM_BATCH = 50
MAX_URL = 2000
MAX_DESCRIPTION = 500
MAX_ROTATION_OVERLAP_HOURS = 7 * 24


Delivery = WebhookDelivery
Status = WebhookDelivery.Status


# --- which topics anyone listens to (per-process cache) ----------------------------------------

_topics: tuple[float, frozenset[str]] | None = None
_topics_lock = threading.Lock()


def subscribed_topics() -> frozenset[str]:
    """Topics at least one active endpoint subscribes to. Emitting is on the hot path of event
    ingestion (thousands of events a second), so this is read from the database at most once
    every ``WEBHOOKS_TOPICS_CACHE_SECONDS`` per process: a change made in another process takes
    effect within that time; one made in this process, at once (:func:`topics_changed`)."""
    global _topics
    cached = _topics
    now = time.monotonic()
    if cached is not None and now - cached[0] < settings.WEBHOOKS_TOPICS_CACHE_SECONDS:
        return cached[1]
    with _topics_lock:
        topics: set[str] = set()
        for listed in WebhookEndpoint.objects.active().values_list("topics", flat=True):
            topics.update(listed or [])
        _topics = (now, frozenset(topics))
        return _topics[1]


def topics_changed() -> None:
    """Forget the cached topics now and again after the commit (a reader in between may have
    cached the state before the commit)."""
    global _topics
    _topics = None

    def forget() -> None:
        global _topics
        _topics = None

    transaction.on_commit(forget)


def wants(topic: str) -> bool:
    return topic in subscribed_topics()


# --- emitting ---------------------------------------------------------------------------------


def _jsonable(data: Any) -> Any:
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False))


def envelope(topic: str, data: Any, event_id: str, created_at: datetime) -> dict[str, Any]:
    return {"id": event_id, "topic": topic, "created_at": created_at.isoformat(), "data": data}


def emit(topic: str, data: Mapping[str, Any]) -> int:
    """Queue ``data`` for every active endpoint subscribed to ``topic``; returns how many
    deliveries were created. Call it inside the transaction of the write it reports."""
    return emit_many(topic, [data])


def emit_many(topic: str, items: Sequence[Mapping[str, Any]]) -> int:
    """:func:`emit` for many payloads of one topic, with one INSERT per 500 deliveries."""
    if not items or not wants(topic):
        return 0
    endpoints = [e for e in WebhookEndpoint.objects.active().only("id", "topics") if topic in (e.topics or [])]
    if not endpoints:
        return 0
    now = timezone.now()
    rows = []
    for data in items:
        body = _jsonable(data)
        for endpoint in endpoints:
            event_id = generate_event_id()
            rows.append(
                WebhookDelivery(
                    endpoint_id=endpoint.pk,
                    topic=topic,
                    event_id=event_id,
                    payload=envelope(topic, body, event_id, now),
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    WebhookDelivery.objects.bulk_create(rows, batch_size=500)
    transaction.on_commit(wake_sender)
    return len(rows)


def wake_sender() -> None:
    from danhba.webhooks.tasks import deliveries_send_job

    deliveries_send_job()


def _webhook_hidden_fields() -> set[str]:
    from danhba.contacts.models import CustomField

    keys = set(perms.SENSITIVE_STANDARD_FIELDS)
    keys.update(cf.permission_key for cf in CustomField.objects.filter(is_sensitive=True))
    return keys


def contact_payloads(contact_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The contacts as the REST API shows them (``contacts.selectors.contact_data``), without
    any sensitive field — standard (birthday, gender, income band, family) or custom: payloads
    leave danhba for systems whose access nobody here controls and stay in the delivery log for
    30 days, so they carry only what a role without sensitive-field grants sees. A receiver that
    needs more asks the API with a key whose role is granted it. Fixed query count per call."""
    from danhba.contacts.models import Contact, ContactCompany
    from danhba.contacts.selectors import active_custom_keys, contact_data

    ids = list(dict.fromkeys(contact_ids))
    if not ids:
        return {}
    hidden = _webhook_hidden_fields()
    active = active_custom_keys("contact")
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        contacts = (
            Contact.objects.filter(pk__in=ids[start : start + 500])
            .select_related("lifecycle_stage", "buyer_role")
            .prefetch_related(
                "emails",
                "phones",
                "tags",
                "external_ids",
                "social_profiles",
                Prefetch("company_links", queryset=ContactCompany.objects.select_related("company")),
            )
        )
        for contact in contacts:
            # contact_data reads ``user`` only to work out hidden fields, which we pass.
            data = contact_data(contact, cast(Any, None), hidden=hidden, full=False, active=active)
            # The lists as contact_data(full=True) has them, from the prefetched rows.
            data["emails"] = [
                {"email": e.email, "label": e.label, "is_primary": e.is_primary} for e in contact.emails.all()
            ]
            data["phones"] = [
                {"phone": p.e164, "raw": p.raw, "kind": p.kind, "label": p.label, "is_primary": p.is_primary}
                for p in contact.phones.all()
            ]
            data["tags"] = sorted(t.name for t in contact.tags.all())
            data["companies"] = [
                {
                    "company_id": x.company_id,
                    "name": x.company.name,
                    "is_primary": x.is_primary,
                    "job_title": x.job_title,
                }
                for x in contact.company_links.all()
            ]
            data["external_ids"] = [{"system": x.system, "value": x.value} for x in contact.external_ids.all()]
            data["social_profiles"] = [
                {"network": s.network, "handle": s.handle} for s in contact.social_profiles.all()
            ]
            out[contact.pk] = data
    return out


def _shown_fields(names: Iterable[str], hidden: set[str]) -> list[str]:
    fields = set()
    for name in names:
        # The import names foreign keys by column, a bulk edit says "tags added": one vocabulary out.
        name = name.removesuffix("_id") if name in ("owner_id", "lifecycle_stage_id", "buyer_role_id") else name
        name = "tags" if name.startswith("tags ") else name
        if name in hidden or name == "import":
            continue
        fields.add(name)
    return sorted(fields)


def contacts_changed(*, created: Iterable[int] = (), updated: Mapping[int, Iterable[str]] | None = None) -> int:
    """``contact.created`` for ``created`` and ``contact.updated`` for ``updated`` (contact id →
    names of the changed fields). An update that only touched sensitive fields is not sent: its
    payload would be the same as before. Costs nothing when nobody subscribes."""
    topics = subscribed_topics()
    created = list(created) if Topic.CONTACT_CREATED in topics else []
    updated = dict(updated or {}) if Topic.CONTACT_UPDATED in topics else {}
    if not created and not updated:
        return 0
    hidden = _webhook_hidden_fields()
    changed = {cid: _shown_fields(names, hidden) for cid, names in updated.items()}
    changed = {cid: names for cid, names in changed.items() if names}
    payloads = contact_payloads([*created, *changed])
    count = emit_many(Topic.CONTACT_CREATED, [payloads[c] for c in created if c in payloads])
    items = [{**payloads[c], "changed_fields": names} for c, names in changed.items() if c in payloads]
    return count + emit_many(Topic.CONTACT_UPDATED, items)


def on_contacts_changed(change: ContactsChange) -> None:
    """Listener of ``contacts.changed`` (``apps.py``): ``contact.created`` and ``contact.updated``."""
    if change.created or change.updated:
        contacts_changed(created=change.created, updated=change.updated)


def contact_merged(survivor: Any, merged_ids: Sequence[int]) -> int:
    """``contact.merged``: ``merged_ids`` were merged into ``survivor`` (a Contact), which is
    sent as the API shows it. For the merge of stored contacts (data-quality duplicates)."""
    if not wants(Topic.CONTACT_MERGED):
        return 0
    payload = contact_payloads([survivor.pk]).get(survivor.pk)
    if payload is None:
        return 0
    return emit(Topic.CONTACT_MERGED, {"contact": payload, "merged_ids": sorted(int(i) for i in merged_ids)})


def events_received(*, source: Any, message_ids: Sequence[str], received_at: datetime) -> int:
    """``event.received`` for the events a request to the event API just stored (fresh ones
    only: the caller passes the message ids it did not find stored). Read back by the request's
    ``received_at``, so an event a concurrent request stored first is not sent twice."""
    if not message_ids or not wants(Topic.EVENT_RECEIVED):
        return 0
    from danhba.tracking.models import Event

    events = Event.objects.filter(source=source, message_id__in=list(message_ids), received_at=received_at)
    items = [
        {
            "id": e.pk,
            "source_id": e.source_id,
            "message_id": e.message_id,
            "type": e.type,
            "name": e.name,
            "contact_id": e.contact_id,
            "anonymous_id": e.anonymous_id,
            "user_id": e.user_id,
            "timestamp": e.timestamp,
            "received_at": e.received_at,
            "properties": e.properties,
            "context": e.context,
            "traits": e.traits,
        }
        for e in events.order_by("id")
    ]
    return emit_many(Topic.EVENT_RECEIVED, items)


def on_events_stored(stored: StoredEvents) -> list[dict[str, Any]]:
    """Listener of ``tracking.events_stored``: ``event.received`` for a request's fresh events."""
    events_received(
        source=stored.source, message_ids=[m.message_id for m in stored.messages], received_at=stored.received_at
    )
    return []


def on_order_created(order: Any, lines: Sequence[Any]) -> None:
    """Listener of ``orders.order_created``."""
    order_created(order, lines)


def order_created(order: Any, lines: Iterable[Any]) -> int:
    """``order.created`` for a new order (``orders.Order``) and its lines; money as strings
    (exact decimals, in ``currency``)."""
    if not wants(Topic.ORDER_CREATED):
        return 0
    fields = (
        "order_id", "contact_id", "anonymous_id", "source_id", "placed_at", "channel", "store", "currency",
        "subtotal", "discount", "shipping", "tax", "total", "status", "properties", "created_at",
    )  # fmt: skip
    data: dict[str, Any] = {"id": order.pk, **{name: getattr(order, name) for name in fields}}
    data["lines"] = [
        {
            "product_id": line.product_id, "name": line.name, "category": line.category, "quantity": line.quantity,
            "price": line.price, "discount": line.discount, "total": line.total,
        }
        for line in lines
    ]  # fmt: skip
    return emit(Topic.ORDER_CREATED, data)


# --- endpoints ----------------------------------------------------------------------------


def _clean_endpoint(data: Mapping[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    if "url" in data:
        url = str(data["url"] or "").strip()
        if not url:
            errors["url"] = [_("required")]
        elif len(url) > MAX_URL:
            errors["url"] = [_("at most %(n)s characters") % {"n": MAX_URL}]
        else:
            try:
                transport.check_url(url)
            except transport.UnsafeURL as exc:
                errors["url"] = [str(exc)]
        cleaned["url"] = url
    if "description" in data:
        description = clean_text(str(data["description"] or ""))
        if len(description) > MAX_DESCRIPTION:
            errors["description"] = [_("at most %(n)s characters") % {"n": MAX_DESCRIPTION}]
        cleaned["description"] = description
    if "topics" in data:
        topics = data["topics"]
        if not isinstance(topics, (list, tuple)) or not all(isinstance(t, str) for t in topics):
            errors["topics"] = [_("must be a list of topics")]
        else:
            unknown = sorted(set(topics) - set(Topic.values))
            if unknown:
                errors["topics"] = [
                    _("unknown topics: %(unknown)s; choose from %(known)s")
                    % {"unknown": ", ".join(unknown), "known": ", ".join(Topic.values)}
                ]
            elif not topics:
                errors["topics"] = [_("choose at least one topic")]
            cleaned["topics"] = [t for t in Topic.values if t in topics]
    return cleaned


def endpoint_create(*, actor: Actor, url: str, topics: Sequence[str], description: str = "") -> WebhookEndpoint:
    perms.require(actor, "webhook", perms.CREATE)
    errors: dict[str, list[str]] = {}
    cleaned = _clean_endpoint({"url": url, "topics": topics, "description": description}, errors)
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(**cleaned, secret=generate_secret(), created_by=actor.user)
        _audit(
            actor, AuditEvent.Action.CREATE, endpoint, {"url": [None, endpoint.url], "topics": [None, endpoint.topics]}
        )
        topics_changed()
    return endpoint


def endpoint_update(*, actor: Actor, endpoint: WebhookEndpoint, data: Mapping[str, Any]) -> WebhookEndpoint:
    """Change url, description and topics (only the keys given)."""
    perms.require(actor, "webhook", perms.EDIT)
    errors: dict[str, list[str]] = {}
    cleaned = _clean_endpoint(data, errors)
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        changes = {k: [getattr(endpoint, k), v] for k, v in cleaned.items() if getattr(endpoint, k) != v}
        if changes:
            for key, value in cleaned.items():
                setattr(endpoint, key, value)
            endpoint.updated_at = timezone.now()
            endpoint.save(update_fields=[*cleaned, "updated_at"])
            _audit(actor, AuditEvent.Action.UPDATE, endpoint, changes)
            topics_changed()
    return endpoint


def endpoint_delete(*, actor: Actor, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint and its delivery log; nothing more is sent to it."""
    perms.require(actor, "webhook", perms.DELETE)
    with transaction.atomic():
        _audit(actor, AuditEvent.Action.DELETE, endpoint, {"url": [endpoint.url, None]})
        endpoint.delete()
        topics_changed()


def endpoint_disable(
    *, actor: Actor, endpoint: WebhookEndpoint, reason: Reason | None = None, now: datetime | None = None
) -> WebhookEndpoint:
    perms.require(actor, "webhook", perms.EDIT)
    now = now or timezone.now()
    why = reason or reasons.reason(gettext_noop("Disabled by %(who)s."), who=actor.label)
    with transaction.atomic():
        if _disable(endpoint.pk, why, now, WebhookEndpoint.objects.filter(is_active=True)):
            _audit(
                actor,
                AuditEvent.Action.UPDATE,
                endpoint,
                {"is_active": [True, False], "disabled_reason": [None, why.untranslated()]},
            )
    endpoint.refresh_from_db()
    return endpoint


def _disable(pk: int, why: Reason, now: datetime, qs: Any) -> bool:
    """Disable if ``qs`` still holds the endpoint (a conditional UPDATE: two senders cannot both
    disable it); its outstanding deliveries are given up."""
    disabled = qs.filter(pk=pk).update(
        is_active=False, disabled_at=now, disabled_reason=why.untranslated()[:500], disabled_message=why.to_json(),
        updated_at=now,
    )  # fmt: skip
    if not disabled:
        return False
    not_sent = reasons.reason(gettext_noop("Not sent: the endpoint was disabled."))
    WebhookDelivery.objects.filter(endpoint_id=pk, next_attempt_at__isnull=False).update(
        status=Status.GAVE_UP,
        next_attempt_at=None,
        claim_token="",
        last_error=not_sent.untranslated(),
        last_error_message=not_sent.to_json(),
    )
    topics_changed()
    return True


def endpoint_enable(*, actor: Actor, endpoint: WebhookEndpoint, resend_failed: bool = False) -> int:
    """Enable again; with ``resend_failed``, the deliveries given up since the endpoint began
    failing (or was disabled) are queued again. Returns how many were queued."""
    perms.require(actor, "webhook", perms.EDIT)
    now = timezone.now()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if endpoint.is_active:
            return 0
        since = min(d for d in (endpoint.failing_since, endpoint.disabled_at, now) if d is not None)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            is_active=True,
            disabled_at=None,
            disabled_reason="",
            disabled_message={},
            consecutive_failures=0,
            failing_since=None,
            updated_at=now,
        )
        queued = 0
        if resend_failed:
            queued = (
                WebhookDelivery.objects.filter(
                    endpoint=endpoint, status=Status.GAVE_UP, created_at__gte=since - timedelta(days=1)
                )
                .exclude(topic=PING)
                .update(status=Status.FAILED, next_attempt_at=now, attempts=0, claim_token="")
            )
        _audit(actor, AuditEvent.Action.UPDATE, endpoint, {"is_active": [False, True], "resent": [None, queued]})
        topics_changed()
        if queued:
            transaction.on_commit(wake_sender)
    return queued


def endpoint_rotate_secret(
    *, actor: Actor, endpoint: WebhookEndpoint, keep_previous_hours: int = 24
) -> WebhookEndpoint:
    """A new secret; the old one keeps signing alongside it for ``keep_previous_hours`` (0: stops
    at once, e.g. when it leaked)."""
    perms.require(actor, "webhook", perms.EDIT)
    if (
        isinstance(keep_previous_hours, bool)
        or not isinstance(keep_previous_hours, int)
        or not (0 <= keep_previous_hours <= MAX_ROTATION_OVERLAP_HOURS)
    ):
        raise InvalidInput(
            {"keep_previous_hours": [_("between 0 and %(n)s hours") % {"n": MAX_ROTATION_OVERLAP_HOURS}]}
        )
    now = timezone.now()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        endpoint.previous_secret = endpoint.secret if keep_previous_hours else ""
        endpoint.previous_secret_expires_at = (
            now + timedelta(hours=keep_previous_hours) if keep_previous_hours else None
        )
        endpoint.secret = generate_secret()
        endpoint.updated_at = now
        endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
        _audit(
            actor,
            AuditEvent.Action.UPDATE,
            endpoint,
            {"secret": ["…", "rotated"], "previous_valid_hours": [None, keep_previous_hours]},
        )
    return endpoint


def endpoint_reveal_secret(*, actor: Actor, endpoint: WebhookEndpoint) -> str:
    """The signing secret, for a role that may edit webhooks; every reveal is audited."""
    perms.require(actor, "webhook", perms.EDIT)
    _audit(actor, AuditEvent.Action.VIEW, endpoint, {"secret": [None, "revealed"]})
    return endpoint.secret


def _audit(actor: Actor, action: str, endpoint: WebhookEndpoint, changes: dict[str, Any] | None = None) -> None:
    audit_event(
        actor=actor, action=action, object_type="webhook", object_id=endpoint.pk, object_label=endpoint.url[:254],
        changes=changes,
    )  # fmt: skip


# --- sending ------------------------------------------------------------------------------


def retry_delay(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failed attempt, with jitter."""
    base = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
    return timedelta(seconds=base * (1 + random.uniform(-JITTER, JITTER)))


def request_for(delivery: WebhookDelivery, endpoint: WebhookEndpoint, now: datetime) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = int(now.timestamp())
    headers = {
        signing.SIGNATURE_HEADER: signing.header_value(endpoint.signing_secrets(now), timestamp, body),
        signing.EVENT_ID_HEADER: delivery.event_id,
        signing.TOPIC_HEADER: delivery.topic,
        "Danhba-Delivery-Attempt": str(delivery.attempts + 1),
    }
    return body, headers


def _send(delivery: WebhookDelivery, now: datetime, timeout: float) -> transport.Result:
    body, headers = request_for(delivery, delivery.endpoint, now)
    return transport.post(delivery.endpoint.url, body, headers, timeout=timeout)


def _attempt_values(result: transport.Result, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {
        "attempts": F("attempts") + 1,
        "claim_token": "",
        "last_attempt_at": now,
        "last_status_code": result.status_code,
        "last_error": result.error.untranslated()[:500] if result.error else "",
        "last_error_message": result.error.to_json() if result.error else {},
        "last_request_headers": dict(result.request_headers),
        "last_response_body": result.response_body,
        "duration_ms": result.duration_ms,
    }
    if result.ok:
        values.update(status=Status.SUCCEEDED, next_attempt_at=None, delivered_at=now)
    return values


def _record(delivery: WebhookDelivery, result: transport.Result, now: datetime, *, token: str) -> bool:
    """Write the result of a scheduled attempt: success, a retry later, or giving up. Returns
    False (and writes nothing) if the claim was lost meanwhile."""
    values = _attempt_values(result, now)
    attempts = delivery.attempts + 1
    if not result.ok:
        if attempts >= MAX_ATTEMPTS:
            values.update(status=Status.GAVE_UP, next_attempt_at=None)
        else:
            values.update(status=Status.FAILED, next_attempt_at=now + retry_delay(attempts))
    return bool(WebhookDelivery.objects.filter(pk=delivery.pk, claim_token=token).update(**values))


def _record_manual(delivery: WebhookDelivery, result: transport.Result, now: datetime) -> None:
    """Write the result of a test or a resend. A failure leaves the status and retry schedule
    alone (a delivery that succeeded once stays delivered; a ping that failed is "failed")."""
    values = _attempt_values(result, now)
    if not result.ok:
        values.pop("claim_token")
        WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.PENDING, next_attempt_at__isnull=True).update(
            status=Status.FAILED
        )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**values)
    delivery.refresh_from_db()


def _endpoint_health(endpoint_id: int, ok: bool, now: datetime) -> None:
    if ok:
        WebhookEndpoint.objects.filter(pk=endpoint_id).update(
            consecutive_failures=0, failing_since=None, last_success_at=now
        )
        return
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(
        consecutive_failures=F("consecutive_failures") + 1, failing_since=Coalesce("failing_since", now)
    )
    limit = settings.WEBHOOKS_DISABLE_AFTER_FAILURES
    hours = settings.WEBHOOKS_DISABLE_AFTER_HOURS
    due = WebhookEndpoint.objects.filter(
        is_active=True, consecutive_failures__gte=limit, failing_since__lte=now - timedelta(hours=hours)
    )
    why = reasons.reason(
        gettext_noop(
            "Disabled automatically after %(n)s failed attempts in a row without a success for %(hours)s hours."
        ),
        n=str(limit),
        hours=str(hours),
    )
    with transaction.atomic():
        if _disable(endpoint_id, why, now, due):
            endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
            _audit(
                Actor.system("job"),
                AuditEvent.Action.UPDATE,
                endpoint,
                {"is_active": [True, False], "disabled_reason": [None, why.untranslated()]},
            )


def _claim(now: datetime, size: int) -> list[WebhookDelivery]:
    token = secrets.token_hex(16)
    lease = now + LEASE
    due = WebhookDelivery.objects.filter(next_attempt_at__lte=now, endpoint__is_active=True)
    if connection.vendor == "postgresql":
        with transaction.atomic():
            ids = list(
                due.select_for_update(skip_locked=True, of=("self",))
                .order_by("next_attempt_at")
                .values_list("pk", flat=True)[:size]
            )
            if ids:
                WebhookDelivery.objects.filter(pk__in=ids).update(next_attempt_at=lease, claim_token=token)
    else:
        # SQLite runs one writer at a time, so one conditional UPDATE is the claim: a row another
        # sender claimed first is no longer due and is not taken again.
        ids = list(due.order_by("next_attempt_at").values_list("pk", flat=True)[:size])
        if ids:
            WebhookDelivery.objects.filter(pk__in=ids, next_attempt_at__lte=now).update(
                next_attempt_at=lease, claim_token=token
            )
    if not ids:
        return []
    return list(WebhookDelivery.objects.filter(pk__in=ids, claim_token=token).select_related("endpoint"))


def deliveries_send_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Send up to ``limit`` due deliveries (first attempts and retries); returns how many were
    attempted. ``now`` is for tests that move time forward."""
    fixed_now = now
    sent = 0
    timeout = settings.WEBHOOKS_TIMEOUT
    workers = max(1, settings.WEBHOOKS_SEND_CONCURRENCY)
    while sent < limit:
        started = fixed_now or timezone.now()
        batch = _claim(started, min(CLAIM_BATCH, limit - sent))
        if not batch:
            return sent
        if workers == 1 or len(batch) == 1:
            results = [_send(d, started, timeout) for d in batch]
        else:
            # Only the HTTP runs in threads; every database write stays in this thread.
            with ThreadPoolExecutor(max_workers=min(workers, len(batch))) as pool:
                results = list(pool.map(_send, batch, [started] * len(batch), [timeout] * len(batch)))
        finished = fixed_now or timezone.now()
        for delivery, result in zip(batch, results, strict=True):
            if _record(delivery, result, finished, token=delivery.claim_token):
                _endpoint_health(delivery.endpoint_id, result.ok, finished)
        sent += len(batch)
    if sent >= limit:
        transaction.on_commit(wake_sender)  # more may be due: carry on in a fresh job
    return sent


def endpoint_test(*, actor: Actor, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a ``ping`` now (short timeout) and return its delivery with the result; it is in the
    log and does not count towards disabling the endpoint. Works on a disabled endpoint too, to
    check it before enabling it again."""
    perms.require(actor, "webhook", perms.EDIT)
    now = timezone.now()
    event_id = generate_event_id()
    data = {
        "endpoint_id": endpoint.pk,
        "message": _("This is a test event sent from danhba by %(who)s.") % {"who": actor.label},
    }
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, topic=PING, event_id=event_id, payload=envelope(PING, data, event_id, now), created_at=now
    )
    delivery.endpoint = endpoint
    result = _send(delivery, now, settings.WEBHOOKS_TEST_TIMEOUT)
    _record_manual(delivery, result, timezone.now())
    if result.ok and endpoint.is_active:
        _endpoint_health(endpoint.pk, True, timezone.now())
    return delivery


def delivery_resend(*, actor: Actor, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now, unchanged (same event id, so a receiver that did get it can
    tell). A failure leaves its retry schedule as it was; a success ends it."""
    perms.require(actor, "webhook", perms.EDIT)
    endpoint = delivery.endpoint
    now = timezone.now()
    result = _send(delivery, now, settings.WEBHOOKS_TEST_TIMEOUT)
    _record_manual(delivery, result, timezone.now())
    if result.ok and endpoint.is_active:
        _endpoint_health(endpoint.pk, True, timezone.now())
    audit_event(
        actor=actor, action=AuditEvent.Action.UPDATE, object_type="webhook", object_id=endpoint.pk,
        object_label=endpoint.url[:254], changes={"resent": [None, delivery.event_id], "succeeded": [None, result.ok]},
    )  # fmt: skip
    return delivery


def deliveries_purge(*, now: datetime | None = None) -> int:
    """Delete deliveries older than ``WEBHOOKS_RETENTION_DAYS``, a chunk at a time (payloads
    hold personal data: the log is kept only as long as it is useful for debugging)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOKS_RETENTION_DAYS)
    deleted = 0
    while True:
        ids = list(WebhookDelivery.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:5000])
        if not ids:
            return deleted
        deleted += WebhookDelivery.objects.filter(pk__in=ids).delete()[0]
