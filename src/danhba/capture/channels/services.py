"""Writes of the channels: connections (audited), storing what the webhooks receive, and
processing it in the worker (``process.py`` does the reading of each channel's payloads).

Every request with a good signature is stored first (``payload_receive``), whatever it holds;
a job processes it after the commit. A failure keeps the payload with its error, and it can be
processed again (by hand, one or all; or by the sweep, a few times) — processing is idempotent.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.accounts.permissions import require
from danhba.audit.services import audit_event
from danhba.capture.channels import graph as graphs
from danhba.capture.channels import mapping as mappings
from danhba.capture.channels.graph import VERSION as GRAPH_VERSION
from danhba.capture.channels.graph import GraphClient
from danhba.capture.models import ChannelConnection, ChannelKind, ChannelPayload, PayloadStatus
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput, NotFound
from danhba.core.normalize import clean_text

log = logging.getLogger(__name__)

OBJECT = "channel"
# Headers kept with a payload: what tells who sent it and how (never cookies or auth).
KEPT_HEADERS = ("Content-Type", "User-Agent", "X-Hub-Signature-256", "X-ZEvent-Signature", "X-Forwarded-For")
MAX_BODY = 1_000_000
# The sweep processes a failed payload again this many times at most, waiting longer each time.
AUTO_ATTEMPTS = 3
RETRY_AFTER = dt.timedelta(minutes=5)
# A payload still "received" this long after it came lost its wake-up (a worker restart).
LOST_AFTER = dt.timedelta(minutes=1)

EDITABLE = ("name", "account_id", "app_id", "secret", "access_token", "verify_token", "graph_version", "mapping",
            "is_active")  # fmt: skip
SECRETS = ("secret", "access_token", "verify_token")


# --- connections ----------------------------------------------------------------------------


TEXT_LIMITS = {"name": 120, "account_id": 64, "app_id": 64, "secret": 200, "access_token": 2000, "verify_token": 200,
               "graph_version": 10}  # fmt: skip


def _clean_texts(data: dict[str, Any], out: dict[str, Any], errors: dict[str, list[str]]) -> None:
    for key, limit in TEXT_LIMITS.items():
        if key not in data or data[key] is None:
            continue
        if not isinstance(data[key], str):
            errors[key] = [_("must be text")]
            continue
        out[key] = clean_text(data[key])
        if len(out[key]) > limit:
            errors[key] = [_("at most %(n)s characters") % {"n": limit}]


def _check_values(kind: str, out: dict[str, Any], creating: bool, errors: dict[str, list[str]]) -> None:
    required = ["name", "account_id", "secret"] + (["app_id"] if kind == ChannelKind.ZALO else ["verify_token"])
    for key in required:
        if (creating and not out.get(key)) or (key in out and not out[key]):
            errors.setdefault(key, [_("this field is required")])
    if out.get("account_id") and not out["account_id"].isdigit():
        errors.setdefault("account_id", [_("must be the numeric id")])
    if out.get("graph_version") and not GRAPH_VERSION.match(out["graph_version"]):
        errors["graph_version"] = [_("must look like v21.0")]


def _clean_connection(kind: str, data: dict[str, Any], creating: bool) -> dict[str, Any]:
    errors: dict[str, list[str]] = {key: [_("unknown field")] for key in data if key not in EDITABLE}
    out: dict[str, Any] = {}
    _clean_texts(data, out, errors)
    _check_values(kind, out, creating, errors)
    if "mapping" in data:
        problems = mappings.mapping_problems(data["mapping"])
        if problems:
            errors["mapping"] = problems
        else:
            out["mapping"] = {str(k).strip(): str(v).strip() for k, v in data["mapping"].items()}
    if "is_active" in data:
        if isinstance(data["is_active"], bool):
            out["is_active"] = data["is_active"]
        else:
            errors["is_active"] = [_("must be true or false")]
    if errors:
        raise InvalidInput(errors)
    return out


def _taken(kind: str, account_id: str, other: int | None) -> None:
    taken = ChannelConnection.objects.filter(kind=kind, account_id=account_id)
    if other is not None:
        taken = taken.exclude(pk=other)
    if account_id and taken.exists():
        raise InvalidInput({"account_id": [_("another connection already receives this page or OA")]})


def _audit_view(connection: ChannelConnection) -> dict[str, Any]:
    """What the audit log keeps of a connection: never a secret, only whether it is set."""
    return {
        "name": connection.name, "account_id": connection.account_id, "app_id": connection.app_id,
        "mapping": connection.mapping, "is_active": connection.is_active,
        **{f"{k}_set": bool(getattr(connection, k)) for k in SECRETS},
    }  # fmt: skip


def connection_create(*, actor: Actor, kind: str, data: dict[str, Any]) -> ChannelConnection:
    require(actor, OBJECT, perms.CREATE)
    if kind not in ChannelKind.values:
        raise InvalidInput({"kind": [_("must be one of %(choices)s") % {"choices": ", ".join(ChannelKind.values)}]})
    cleaned = _clean_connection(kind, data, creating=True)
    cleaned.setdefault("mapping", mappings.default_mapping(kind))
    with transaction.atomic():
        _taken(kind, cleaned["account_id"], None)
        connection = ChannelConnection.objects.create(kind=kind, created_by=actor.user, **cleaned)
        audit_event(
            actor=actor, action="create", object_type="channel", object_id=connection.pk,
            object_label=str(connection), changes={k: [None, v] for k, v in _audit_view(connection).items()},
        )  # fmt: skip
    return connection


def connection_update(*, actor: Actor, connection: ChannelConnection, data: dict[str, Any]) -> ChannelConnection:
    require(actor, OBJECT, perms.EDIT)
    # A secret left blank in a form keeps the stored one (it is never shown to be typed again).
    data = {k: v for k, v in data.items() if not (k in SECRETS and v in ("", None))}
    cleaned = _clean_connection(connection.kind, data, creating=False)
    with transaction.atomic():
        if "account_id" in cleaned:
            _taken(connection.kind, cleaned["account_id"], connection.pk)
        before = _audit_view(connection)
        for key, value in cleaned.items():
            setattr(connection, key, value)
        connection.updated_at = timezone.now()
        connection.save()
        after = _audit_view(connection)
        changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
        changes.update({f"{k}_changed": [None, True] for k in SECRETS if k in cleaned})
        audit_event(
            actor=actor, action="update", object_type="channel", object_id=connection.pk,
            object_label=str(connection), changes=changes,
        )  # fmt: skip
    return connection


def connection_delete(*, actor: Actor, connection: ChannelConnection) -> None:
    require(actor, OBJECT, perms.DELETE)
    with transaction.atomic():
        audit_event(
            actor=actor, action="delete", object_type="channel", object_id=connection.pk, object_label=str(connection),
            changes={k: [v, None] for k, v in _audit_view(connection).items()},
        )  # fmt: skip
        connection.delete()


def connection_check(
    *, actor: Actor, connection: ChannelConnection, graph: GraphClient | None = None
) -> graphs.PageCheck:
    """Facebook: check the page access token and subscribe the app to the page's leads (what
    Facebook's setup asks after the webhook is added). Audited: it changes the page's side."""
    require(actor, OBJECT, perms.EDIT)
    if connection.kind != ChannelKind.FACEBOOK:
        raise InvalidInput({"kind": [_("only a Facebook connection can be checked")]})
    result = graphs.page_subscribe(
        graph or graphs.default_client(), page_id=connection.account_id, version=connection.graph_version,
        token=connection.access_token, app_secret=connection.secret,
    )  # fmt: skip
    audit_event(
        actor=actor, action="check", object_type="channel", object_id=connection.pk, object_label=str(connection),
        changes={"subscribed": [None, result.subscribed], "problem": [None, result.problem or None]},
    )  # fmt: skip
    return result


def connection_get(pk: int) -> ChannelConnection:
    found = ChannelConnection.objects.filter(pk=pk).first()
    if found is None:
        raise NotFound(_("No such connection."))
    return found


# --- payloads -------------------------------------------------------------------------------


def kept_headers(headers: Any) -> dict[str, str]:
    return {name: str(headers.get(name))[:500] for name in KEPT_HEADERS if headers.get(name)}


def payload_receive(
    *, connection: ChannelConnection, body: bytes, headers: dict[str, str], event: str
) -> ChannelPayload:
    """Store a signed request as it came, and wake the worker after the commit."""
    payload = ChannelPayload.objects.create(
        connection=connection, kind=connection.kind, event=event[:60],
        body=body[:MAX_BODY].decode("utf-8", "replace"), headers=headers,
    )  # fmt: skip
    transaction.on_commit(lambda: _queue(payload.pk))
    return payload


def _queue(payload_id: int) -> None:
    from danhba.capture.tasks import channel_payload_job

    channel_payload_job(payload_id)


def _queue_all(payload_ids: list[int]) -> None:
    for pk in payload_ids:
        _queue(pk)


def payload_process(*, payload_id: int, graph: GraphClient | None = None) -> str:
    """Process one stored payload (a job; idempotent). Returns its status afterwards."""
    from danhba.capture.channels import process

    payload = ChannelPayload.objects.filter(pk=payload_id).select_related("connection").first()
    if payload is None or payload.status != PayloadStatus.RECEIVED:
        return payload.status if payload else "missing"
    ChannelPayload.objects.filter(pk=payload.pk).update(attempts=F("attempts") + 1)
    try:
        prepared = process.prepare(payload, graph)  # reads the network outside any transaction
        with transaction.atomic():
            locked = ChannelPayload.objects.select_for_update().get(pk=payload.pk)
            if locked.status != PayloadStatus.RECEIVED:
                return locked.status
            outcome = process.apply(locked, prepared)
            ChannelPayload.objects.filter(pk=payload.pk).update(
                status=outcome.status, error=outcome.note, contact_id=outcome.contact_id, processed_at=timezone.now()
            )
            return outcome.status
    except Exception as exc:  # every failure is kept with its payload, shown and retryable
        log.warning("channel payload %s failed: %s", payload.pk, exc)
        # Only while still received: another worker may have processed it meanwhile.
        ChannelPayload.objects.filter(pk=payload.pk, status=PayloadStatus.RECEIVED).update(
            status=PayloadStatus.FAILED, error=process.describe(exc), processed_at=timezone.now()
        )
        return ChannelPayload.objects.filter(pk=payload.pk).values_list("status", flat=True).first() or "missing"


def payloads_retry(*, actor: Actor, ids: list[int] | None = None) -> int:
    """Process failed payloads again: these (``ids``) or every failed one. Returns how many."""
    require(actor, OBJECT, perms.EDIT)
    rows = ChannelPayload.objects.filter(status=PayloadStatus.FAILED)
    if ids is not None:
        rows = rows.filter(pk__in=ids)
    with transaction.atomic():
        chosen = list(rows.order_by("id").values_list("id", flat=True)[:10_000])
        ChannelPayload.objects.filter(pk__in=chosen).update(status=PayloadStatus.RECEIVED, error="")
        audit_event(
            actor=actor, action="retry", object_type="channel_payload", object_id=",".join(map(str, chosen[:50])),
            object_label=_("%(n)s payloads processed again") % {"n": len(chosen)},
            changes={"count": [None, len(chosen)]},
        )  # fmt: skip
        transaction.on_commit(lambda: _queue_all(chosen))
    return len(chosen)


def payloads_sweep(now: dt.datetime | None = None) -> int:
    """The minutely sweep: payloads whose wake-up was lost, and failed ones retried a few times
    with growing waits. Returns how many it processed."""
    now = now or timezone.now()
    lost = Q(status=PayloadStatus.RECEIVED, received_at__lt=now - LOST_AFTER)
    due = [
        Q(status=PayloadStatus.FAILED, attempts=n, processed_at__lt=now - RETRY_AFTER * n)
        for n in range(1, AUTO_ATTEMPTS)
    ]
    q = lost
    for condition in due:
        q |= condition
    ids = list(ChannelPayload.objects.filter(q).order_by("id").values_list("id", flat=True)[:200])
    ChannelPayload.objects.filter(pk__in=ids, status=PayloadStatus.FAILED).update(status=PayloadStatus.RECEIVED)
    for pk in ids:
        payload_process(payload_id=pk)
    return len(ids)
