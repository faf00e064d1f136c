"""What the messaging app announces to whoever acts on it (see ``core/hooks.py``): listeners
connect in an ``AppConfig.ready()``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from danhba.core.hooks import Hook

if TYPE_CHECKING:
    from danhba.messaging.bounces import Bounce

BOUNCE_RECEIVED: Hook[[Bounce], object] = Hook(
    "messaging.bounce_received",
    doc="A bounce message was parsed (bounces.receive): its send id from the VERP address (None when "
    "absent or forged) and each failed recipient, hard or soft. Listeners mark the send log and "
    "suppress hard-bounced addresses.",
)
