"""What a bounce does (the ``BOUNCE_RECEIVED`` listener, connected in ``apps.py``): a hard
bounce of a send danhba made puts the send's address on the suppression list at once
(``campaigns.suppression_add``, reason hard bounce).

Only a bounce whose VERP return path carries danhba's signature counts: the bounce mailbox
takes mail from anyone, and an unsigned report could otherwise suppress any address. The send's
own address is suppressed (the one the VERP names), even when the report names another (a
forwarding address that failed). Soft bounces are parsed but not counted yet: the send log has
no bounce counter."""

from __future__ import annotations

import logging

from danhba.messaging.bounces import Bounce
from danhba.messaging.models import Send, Suppression
from danhba.messaging.services.campaigns import suppression_add

log = logging.getLogger(__name__)


def bounce_apply(bounce: Bounce) -> None:
    if bounce.send_id is None:
        log.info("bounce without a signed VERP address ignored: %s", sorted(bounce.addresses))
        return
    send = Send.objects.filter(pk=bounce.send_id).only("email", "campaign_id").first()
    if send is None or not send.email or not bounce.hard:
        return
    failure = next(f for f in bounce.failures if f.hard)
    note = f"bounce {failure.status or 'hard'}, campaign {send.campaign_id}: {failure.diagnostic}"
    suppression_add(email=send.email, reason=Suppression.Reason.HARD_BOUNCE, note=note)
