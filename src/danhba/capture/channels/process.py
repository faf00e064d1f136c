"""Reading each channel's payloads and applying them (called by ``services.payload_process``).

``prepare`` does what needs the network (Facebook: the Graph API, for each leadgen change),
outside any transaction; ``apply`` writes in the caller's transaction: the contact through
``capture.leads``, the channel's lead key, consent, and an event of the channel's internal
source on the contact's timeline (its messageId makes a repeat store nothing twice).
"""

from __future__ import annotations

import datetime as dt
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from django.db import connection as db
from django.utils import timezone

from danhba.capture.channels import graph as graphs
from danhba.capture.channels.mapping import Mapped, apply_mapping, default_mapping
from danhba.capture.leads import LeadIn, LeadOut, lead_upsert
from danhba.capture.models import ChannelKind, ChannelLead, ChannelPayload, PayloadStatus
from danhba.core.actor import Actor
from danhba.core.errors import ServiceError
from danhba.privacy.services import consent_record
from danhba.tracking.services.server import ServerEvent, server_events_store

ACTOR = Actor.system(via="job")
FORM_SUBMITTED = "Form Submitted"
ZALO_EVENTS = {
    "follow": "Zalo Followed",
    "unfollow": "Zalo Unfollowed",
    "user_submit_info": FORM_SUBMITTED,
}
ZALO_MESSAGE = "Zalo Message Received"  # every user_send_* event
# PostgreSQL advisory lock namespace ("lead") of :func:`lock_leads`.
LEAD_LOCKS = 0x6C656164


class PayloadError(Exception):
    """The payload cannot be read as its channel writes them."""


@dataclass
class Outcome:
    status: str
    note: str = ""
    contact_id: int | None = None


@dataclass
class FacebookLead:
    change: dict[str, Any]
    lead: graphs.Lead


@dataclass
class Prepared:
    data: dict[str, Any]
    leads: list[FacebookLead] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def describe(exc: BaseException) -> str:
    if isinstance(exc, ServiceError):
        details = exc.details if isinstance(exc.details, dict) else {}
        parts = [f"{k}: {'; '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in details.items()]
        return "; ".join([exc.message, *parts])[:2000]
    if isinstance(exc, (PayloadError, graphs.LeadFetchError)):
        return str(exc)[:2000]
    return f"{type(exc).__name__}: {exc}"[:2000]


def _json(body: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        raise PayloadError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise PayloadError("the body is not a JSON object")
    return data


def _moment(value: Any, *, millis: bool) -> dt.datetime | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    seconds = number / 1000 if millis else number
    if not 946_684_800 <= seconds <= 7_258_118_400:  # 2000 to 2200
        return None
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


def _note(left_out: dict[str, list[str]], skipped: list[str]) -> str:
    notes = [f"left out {k}: {'; '.join(v)}" for k, v in left_out.items()] + skipped
    return "\n".join(notes)[:2000]


# --- prepare (may use the network) ----------------------------------------------------------


def _leadgen_changes(data: dict[str, Any], page_id: str, skipped: list[str]) -> list[dict[str, Any]]:
    changes = []
    for entry in data.get("entry") or []:
        if not isinstance(entry, dict):
            continue
        if str(entry.get("id", "")) != page_id:
            skipped.append(f"entry for page {str(entry.get('id'))[:40]} is not this connection's page")
            continue
        for change in entry.get("changes") or []:
            if isinstance(change, dict) and change.get("field") == "leadgen" and isinstance(change.get("value"), dict):
                changes.append(change["value"])
    return changes


def prepare(payload: ChannelPayload, client: graphs.GraphClient | None) -> Prepared:
    connection = payload.connection
    if connection is None:
        raise PayloadError("its connection was deleted")
    data = _json(payload.body)
    prepared = Prepared(data)
    if payload.kind != ChannelKind.FACEBOOK or data.get("object") != "page":
        return prepared
    client = client or graphs.default_client()
    for change in _leadgen_changes(data, connection.account_id, prepared.skipped):
        lead_id = str(change.get("leadgen_id", ""))
        lead = graphs.lead_fetch(
            client, lead_id=lead_id, version=connection.graph_version, token=connection.access_token,
            app_secret=connection.secret,
        )  # fmt: skip
        prepared.leads.append(FacebookLead(change, lead))
    return prepared


# --- apply (in the caller's transaction) ----------------------------------------------------


def _consents(out: LeadOut, mapped: Mapped, proof: str, skipped: list[str]) -> None:
    for purpose, question in mapped.consents.items():
        try:
            consent_record(
                actor=ACTOR, contact=out.contact, purpose=purpose, status="granted", source="form", proof=proof,
                text_version=question[:60],
            )  # fmt: skip
        except ServiceError as exc:
            skipped.append(f"consent {purpose}: {describe(exc)}")


def lock_leads(kind: str, lead_keys: list[str]) -> None:
    """Serialise, per channel lead key (a Facebook leadgen id, a Zalo user id), applying its
    payloads until the transaction ends (PostgreSQL; on SQLite a writing transaction already
    holds the only write lock). Without it, two workers applying the same lead at once
    (Facebook's retried delivery and the sweep; a Zalo user's follow and submitted info) both
    find no ChannelLead or Zalo id and both make a contact; with it, the second waits, then finds
    the first one's and updates its contact. A lock rather than a ChannelLead placeholder: a
    ChannelLead needs its contact, which is made after the match. Taken in key order, so two
    payloads with the same leads in another order cannot deadlock."""
    if db.vendor != "postgresql":
        return
    keys = sorted({zlib.crc32(f"{kind}:{key}".encode()) & 0x7FFFFFFF for key in lead_keys})
    with db.cursor() as cursor:
        for key in keys:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LEAD_LOCKS, key])


def _facebook_lead(payload: ChannelPayload, item: FacebookLead, skipped: list[str]) -> LeadOut:
    connection = payload.connection
    assert connection is not None
    lead = item.lead
    known = ChannelLead.objects.filter(kind=ChannelKind.FACEBOOK, lead_key=lead.lead_id).first()
    mapped = apply_mapping(lead.fields, connection.mapping or default_mapping(ChannelKind.FACEBOOK))
    out = lead_upsert(
        actor=ACTOR,
        lead=LeadIn(
            source="facebook", fields=mapped.fields, emails=mapped.emails, phones=mapped.phones, custom=mapped.custom,
            contact_id=known.contact_id if known else None,
        ),
    )  # fmt: skip
    ChannelLead.objects.update_or_create(
        kind=ChannelKind.FACEBOOK, lead_key=lead.lead_id,
        defaults={"contact": out.contact, "payload": payload, "connection": connection, "fields": lead.fields,
                  "updated_at": timezone.now()},
    )  # fmt: skip
    if known is None:
        _consents(out, mapped, f"Facebook lead {lead.lead_id} (form {lead.form_id})", skipped)
    properties = {"channel": "facebook", "lead_id": lead.lead_id, "form_id": lead.form_id, "ad_id": lead.ad_id,
                  "campaign": lead.campaign, "page": connection.name}  # fmt: skip
    event = ServerEvent(
        contact_id=out.contact.pk, name=FORM_SUBMITTED, message_id=f"facebook-lead:{lead.lead_id}",
        properties={k: v for k, v in properties.items() if v},
        timestamp=_moment(item.change.get("created_time"), millis=False),
    )  # fmt: skip
    server_events_store(source="facebook", events=[event])
    return out


def _apply_facebook(payload: ChannelPayload, prepared: Prepared) -> Outcome:
    if prepared.data.get("object") != "page":
        return Outcome(PayloadStatus.IGNORED, "not a page event")
    if not prepared.leads:
        return Outcome(PayloadStatus.IGNORED, _note({}, prepared.skipped or ["no leadgen change"]))
    left_out: dict[str, list[str]] = {}
    contact_id = None
    lock_leads(ChannelKind.FACEBOOK, [item.lead.lead_id for item in prepared.leads])
    for item in prepared.leads:
        out = _facebook_lead(payload, item, prepared.skipped)
        contact_id = out.contact.pk
        for key, reasons in out.left_out.items():
            left_out.setdefault(key, []).extend(reasons)
    return Outcome(PayloadStatus.PROCESSED, _note(left_out, prepared.skipped), contact_id)


def _zalo_user(data: dict[str, Any], event: str) -> str:
    holder = data.get("follower") if event in ("follow", "unfollow") else data.get("sender")
    user = holder.get("id") if isinstance(holder, dict) else None
    if not isinstance(user, (str, int)) or isinstance(user, bool) or not str(user).strip():
        raise PayloadError(f"no user id in the {event} event")
    return str(user).strip()[:100]


def _zalo_event_name(event: str) -> str | None:
    if event in ZALO_EVENTS:
        return ZALO_EVENTS[event]
    return ZALO_MESSAGE if event.startswith("user_send_") else None


def _zalo_properties(data: dict[str, Any], event: str) -> dict[str, Any]:
    properties: dict[str, Any] = {"channel": "zalo", "zalo_event": event}
    message = data.get("message")
    if isinstance(message, dict):
        for key in ("text", "msg_id"):
            if isinstance(message.get(key), str):
                properties[key] = message[key][:2000]
    if isinstance(data.get("source"), str):
        properties["zalo_source"] = data["source"][:100]
    return properties


def _apply_zalo(payload: ChannelPayload, prepared: Prepared) -> Outcome:
    connection = payload.connection
    assert connection is not None
    data = prepared.data
    event = str(data.get("event_name") or "")[:60]
    name = _zalo_event_name(event)
    if name is None:
        return Outcome(PayloadStatus.IGNORED, f"the event “{event}” is not read")
    recipient = data.get("recipient")
    oa_id = data.get("oa_id") or (recipient.get("id") if isinstance(recipient, dict) else None)
    if oa_id and str(oa_id) != connection.account_id:
        return Outcome(PayloadStatus.IGNORED, f"for another OA ({str(oa_id)[:40]})")
    user = _zalo_user(data, event)
    lock_leads(ChannelKind.ZALO, [user])
    mapped = Mapped()
    if event == "user_submit_info":
        info = data["info"] if isinstance(data.get("info"), dict) else {}
        values = {str(k): str(v) for k, v in info.items() if isinstance(v, (str, int)) and not isinstance(v, bool)}
        mapped = apply_mapping(values, connection.mapping or default_mapping(ChannelKind.ZALO))
    out = lead_upsert(
        actor=ACTOR,
        lead=LeadIn(
            source="zalo", fields=mapped.fields, emails=mapped.emails, phones=mapped.phones, custom=mapped.custom,
            external_ids=[("zalo", user)],
        ),
    )  # fmt: skip
    skipped: list[str] = []
    moment = _moment(data.get("timestamp"), millis=True)
    if event == "user_submit_info":
        _consents(out, mapped, f"Zalo OA {connection.account_id}: user_submit_info", skipped)
    key = (data.get("message") or {}).get("msg_id") if isinstance(data.get("message"), dict) else None
    message_id = f"zalo:{event}:{user}:{key or data.get('timestamp', payload.pk)}"
    server_events_store(
        source="zalo",
        events=[ServerEvent(out.contact.pk, name, message_id, _zalo_properties(data, event), moment)],
    )
    return Outcome(PayloadStatus.PROCESSED, _note(out.left_out, skipped), out.contact.pk)


def apply(payload: ChannelPayload, prepared: Prepared) -> Outcome:
    if payload.kind == ChannelKind.FACEBOOK:
        return _apply_facebook(payload, prepared)
    return _apply_zalo(payload, prepared)
