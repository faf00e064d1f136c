"""What the event intake tells the apps that act on events (orders, webhooks), which tracking
does not import: they connect in their ``AppConfig.ready()`` (see ``core/hooks.py``;
``danhba hooks`` lists who listens)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from danhba.core.hooks import Hook

if TYPE_CHECKING:
    from danhba.tracking.models import Source
    from danhba.tracking.services.messages import Message

# A warning for the sender of an event: {"index", "messageId", "code", "message", "details"}.
Warning = dict[str, Any]


@dataclass(frozen=True)
class StoredEvents:
    """The fresh events of one request, stored, their contacts resolved (``Message.contact_id``)."""

    source: Source
    messages: list[Message]
    received_at: datetime


EVENTS_ACCEPTING: Hook[[list[Message]], list[Warning]] = Hook(
    "tracking.events_accepting",
    doc="A request's valid messages are being accepted (answered before they are stored); listeners\n"
    "check what they understand of them and return warnings for the sender.",
)
EVENTS_STORED: Hook[[StoredEvents], list[Warning]] = Hook(
    "tracking.events_stored",
    doc="A request's fresh events were stored (inside the storing transaction, contacts resolved);\n"
    "listeners act on them and return warnings for the sender.",
)
DEVICES_IDENTIFIED: Hook[[dict[str, int]], None] = Hook(
    "tracking.devices_identified",
    doc="Anonymous device ids were joined to contacts (device id → contact id), before their events\n"
    "move to the contacts; what else the devices did moves with them.",
)


def warnings_of(answers: list[list[Warning]]) -> list[Warning]:
    return [warning for answer in answers for warning in answer or ()]
