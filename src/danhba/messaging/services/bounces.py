"""What a bounce does (the ``BOUNCE_RECEIVED`` listener, connected in ``apps.py``): a hard
bounce of a send danhba made puts the send's address on the suppression list at once
(``campaigns.suppression_add``, reason hard bounce).

Only a bounce whose VERP return path carries danhba's signature counts: the bounce mailbox
takes mail from anyone, and an unsigned report could otherwise suppress any address. The send's
own address is suppressed (the one the VERP names), even when the report names another (a
forwarding address that failed). A soft bounce is kept once per send (``SoftBounce``); the
address is suppressed when ``MESSAGING_SOFT_BOUNCE_LIMIT`` of its sends bounced softly."""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils import timezone

from danhba.messaging.bounces import Bounce
from danhba.messaging.models import Send, SoftBounce, Suppression
from danhba.messaging.services.activity import bounce_recorded
from danhba.messaging.services.campaigns import suppression_add

log = logging.getLogger(__name__)


def _mark(send_id: int, kind: str) -> None:
    """The send's first bounce, for reports; a hard bounce after a soft one replaces it."""
    rows = Send.objects.filter(pk=send_id)
    rows = rows.exclude(bounce="hard") if kind == "hard" else rows.filter(bounce="")
    rows.update(bounce=kind, bounced_at=timezone.now())


def bounce_apply(bounce: Bounce) -> None:
    if bounce.send_id is None:
        log.info("bounce without a signed VERP address ignored: %s", sorted(bounce.addresses))
        return
    send = Send.objects.filter(pk=bounce.send_id).only("email", "campaign_id", "contact_id").first()
    if send is None or not send.email:
        return
    _mark(send.pk, "hard" if bounce.hard else "soft")
    if bounce.hard:
        failure = next(f for f in bounce.failures if f.hard)
        note = f"bounce {failure.status or 'hard'}, campaign {send.campaign_id}: {failure.diagnostic}"
        suppression_add(email=send.email, reason=Suppression.Reason.HARD_BOUNCE, note=note)
        bounce_recorded(send=send, hard=True, status=failure.status)
        return
    status = bounce.failures[0].status
    bounce_recorded(send=send, hard=False, status=status)
    SoftBounce.objects.bulk_create(
        [SoftBounce(send=send, email=send.email, status=status[:12])], ignore_conflicts=True
    )  # a second report about the same message counts once
    count = SoftBounce.objects.filter(email=send.email).count()
    if count >= settings.MESSAGING_SOFT_BOUNCE_LIMIT:
        note = f"{count} soft bounces, the last {status or 'soft'} in campaign {send.campaign_id}"
        suppression_add(email=send.email, reason=Suppression.Reason.SOFT_BOUNCES, note=note)
