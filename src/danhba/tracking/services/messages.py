"""One Segment message: validated into a :class:`Message`, or :class:`Rejected` with the reason the
sender gets back."""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.utils.translation import gettext as _

from danhba.core.normalize import (
    SANE_YEARS,
    clean_text,
    sane_moment,
)
from danhba.tracking.models import Event

logger = logging.getLogger(__name__)


# Segment's documented limits (https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/).
MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_ID_LENGTH = 200
MAX_NAME_LENGTH = 200
TYPES = {t.value for t in Event.Type}
# Characters PostgreSQL refuses inside text or jsonb: NUL, and UTF-16 halves that pair with nothing.
_UNSTORABLE = re.compile(rb"\\u(0000|[dD][89abcdefABCDEF])")


# --- parsing one message --------------------------------------------------------------------


class Rejected(Exception):
    """One message that cannot be stored; ``code`` and ``message`` go back to the sender."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Message:
    index: int
    type: str
    message_id: str
    name: str
    user_id: str
    anonymous_id: str
    previous_id: str
    timestamp: datetime
    original_timestamp: datetime | None
    sent_at: datetime | None
    properties: dict[str, Any]
    context: dict[str, Any]
    traits: dict[str, Any]
    contact_id: int | None = None
    # The contact a server-side event names (``services/server.py``): taken as it is, never
    # resolved from identifiers. Public endpoints never set it.
    known_contact: int | None = None


def first_of_each_id(messages: list[Message]) -> list[Message]:
    """The messages without those that repeat an earlier one's messageId."""
    seen: set[str] = set()
    fresh: list[Message] = []
    for message in messages:
        if message.message_id not in seen:
            seen.add(message.message_id)
            fresh.append(message)
    return fresh


def _id(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Rejected("invalid_type", _("%(field)s must be a string") % {"field": key})
    text = str(value).strip()
    if len(text) > MAX_ID_LENGTH:
        raise Rejected("too_long", _("%(field)s is longer than %(n)s characters") % {"field": key, "n": MAX_ID_LENGTH})
    return text


def _object(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Rejected("invalid_type", _("%(field)s must be an object") % {"field": key})
    return value


def message_time(raw: dict[str, Any], key: str) -> datetime | None:
    value = raw.get(key)
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise Rejected("invalid_type", _("%(field)s must be an ISO 8601 date and time") % {"field": key})
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Rejected("invalid_timestamp", _("%(field)s must be an ISO 8601 date and time") % {"field": key}) from None
    if not sane_moment(parsed):
        # Refused like any other bad event (a batch lists it among the rejected), as every other
        # date danhba takes in is: never stored in year 1 or 9999.
        raise Rejected(
            "invalid_timestamp",
            _("%(field)s must be between the years %(first)s and %(last)s")
            % {"field": key, "first": SANE_YEARS[0], "last": SANE_YEARS[1]},
        )
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def corrected_timestamp(original: datetime | None, sent_at: datetime | None, received_at: datetime) -> datetime:
    """When the event happened by the server's clock: the sender's time shifted by how far its
    clock is off, measured as (received at − sent at); Segment's rule."""
    if original is None:
        return received_at
    if sent_at is None:
        return original
    return original + (received_at - sent_at)


def parse_message(
    raw: Any,
    *,
    index: int,
    received_at: datetime,
    forced_type: str | None = None,
    batch_sent_at: datetime | None = None,
    batch_context: dict[str, Any] | None = None,
    check_size: bool = False,
) -> Message:
    """Validate one Segment message into a :class:`Message`, or raise :class:`Rejected` (the
    first problem found, in the order of the steps below)."""
    body = _message_object(raw, check_size=check_size)
    kind = _message_type(body, forced_type)
    user_id, anonymous_id = _sender_ids(body)
    message_id = _id(body, "messageId") or f"danhba-{uuid.uuid4()}"
    properties, context, traits = _payload(body, batch_context)
    name = _event_name(body, kind)
    previous_id = ""
    if kind == Event.Type.ALIAS:
        previous_id = _alias_previous_id(body, user_id)
        properties = {**properties, "previousId": previous_id}
    elif kind == Event.Type.IDENTIFY:
        # RudderStack sends identify traits under context.traits, Segment at the top level.
        traits = {**(context.get("traits") or {}), **traits}
    timestamp, original, sent_at = _event_times(body, received_at, batch_sent_at)
    return Message(
        index=index, type=kind, message_id=message_id, name=name, user_id=user_id, anonymous_id=anonymous_id,
        previous_id=previous_id, timestamp=timestamp, original_timestamp=original, sent_at=sent_at,
        properties=properties, context=context, traits=traits,
    )  # fmt: skip


def _message_object(raw: Any, *, check_size: bool) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise Rejected("invalid_type", _("an event must be a JSON object"))
    if check_size and len(json.dumps(raw, ensure_ascii=False, separators=(",", ":")).encode()) > MAX_EVENT_BYTES:
        raise Rejected("too_large", _("the event is larger than %(n)s KB") % {"n": MAX_EVENT_BYTES // 1024})
    return raw


def _message_type(raw: dict[str, Any], forced_type: str | None) -> str:
    kind = forced_type or raw.get("type")
    if not isinstance(kind, str) or kind not in TYPES:
        raise Rejected("invalid_type", _("type must be one of %(types)s") % {"types": ", ".join(sorted(TYPES))})
    return kind


def _sender_ids(raw: dict[str, Any]) -> tuple[str, str]:
    """userId and anonymousId: at least one of them."""
    user_id, anonymous_id = _id(raw, "userId"), _id(raw, "anonymousId")
    if not user_id and not anonymous_id:
        raise Rejected("missing_id", _("userId or anonymousId is required"))
    return user_id, anonymous_id


def _payload(
    raw: dict[str, Any], batch_context: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """properties, context (over the batch's context) and traits."""
    properties, context, traits = _object(raw, "properties"), _object(raw, "context"), _object(raw, "traits")
    _object(raw, "integrations")
    if batch_context:
        context = {**batch_context, **context}
    context_traits = context.get("traits")
    if context_traits is not None and not isinstance(context_traits, dict):
        raise Rejected("invalid_type", _("%(field)s must be an object") % {"field": "context.traits"})
    return properties, context, traits


def _event_name(raw: dict[str, Any], kind: str) -> str:
    """The name a type carries: track's event, a page's or screen's name, group's groupId."""
    if kind == Event.Type.TRACK:
        name = raw.get("event")
        if not isinstance(name, str) or not name.strip():
            raise Rejected("missing_event", _("event (the event name) is required for track"))
    elif kind in (Event.Type.PAGE, Event.Type.SCREEN):
        name = raw.get("name") or ""
        if not isinstance(name, str):
            raise Rejected("invalid_type", _("%(field)s must be a string") % {"field": "name"})
    elif kind == Event.Type.GROUP:
        name = _id(raw, "groupId")
        if not name:
            raise Rejected("missing_id", _("groupId is required for group"))
    else:
        return ""
    name = clean_text(name)
    if len(name) > MAX_NAME_LENGTH:
        raise Rejected(
            "too_long", _("%(field)s is longer than %(n)s characters") % {"field": "name", "n": MAX_NAME_LENGTH}
        )
    return name


def _alias_previous_id(raw: dict[str, Any], user_id: str) -> str:
    previous_id = _id(raw, "previousId")
    if not previous_id or not user_id:
        raise Rejected("missing_id", _("previousId and userId are required for alias"))
    return previous_id


def _event_times(
    raw: dict[str, Any], received_at: datetime, batch_sent_at: datetime | None
) -> tuple[datetime, datetime | None, datetime | None]:
    """When the event happened by the server's clock, and the sender's original and sent-at times."""
    original = message_time(raw, "timestamp") or message_time(raw, "originalTimestamp")
    sent_at = message_time(raw, "sentAt") or batch_sent_at
    try:
        timestamp = corrected_timestamp(original, sent_at, received_at)
    except OverflowError:
        raise Rejected("invalid_timestamp", _("timestamp is out of range")) from None
    if not sane_moment(timestamp):  # sane times, but a clock correction that lands outside them
        raise Rejected("invalid_timestamp", _("timestamp is out of range"))
    return timestamp, original, sent_at


def storable(body: bytes, data: Any) -> Any:
    """``data`` without NUL characters and unpaired surrogates (only walked when the raw body
    contains such escapes): PostgreSQL rejects both in text and jsonb."""
    if not _UNSTORABLE.search(body):
        return data
    return _clean_value(data)


def _clean_value(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "").encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {_clean_value(k): _clean_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_value(v) for v in value]
    return value
