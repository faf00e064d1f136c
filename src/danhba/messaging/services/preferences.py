"""The preference centre's writes: a recipient (from the signed link in an email, no login)
opts in or out of email topics, pauses marketing email for some months or ends a pause. Each
change is a statement in the consent ledger (``privacy.services.consent_record``, the one
writer), at once; the send job reads the ledger's current state before each batch. Unsubscribing
from everything is ``campaigns.unsubscribe``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.contacts.models import Contact
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput, NotFound
from danhba.messaging.links import Recipient
from danhba.messaging.preferences import PAUSE_MONTHS, pause_end
from danhba.messaging.selectors import preferences_of
from danhba.privacy.models import ConsentSource, ConsentStatus
from danhba.privacy.services import consent_record


def _contact(recipient: Recipient) -> Contact:
    contact = Contact.objects.filter(pk=recipient.contact_id).first()
    if contact is None:
        raise NotFound(_("This link is not valid."))
    return contact


def preferences_save(
    *, recipient: Recipient, actor: Actor, subscribed_topics: Collection[str], pause_months: int = 0
) -> int:
    """Topics ticked stay (or become) subscribed, the others are opted out of; ``pause_months``
    (1, 3 or 6) pauses marketing email from now. Returns the number of ledger statements
    written (0: nothing changed)."""
    if pause_months and pause_months not in PAUSE_MONTHS:
        message = _("Choose 1, 3 or 6 months.")
        raise InvalidInput({"pause": [message]}, message)
    contact = _contact(recipient)
    view = preferences_of(contact.pk)
    assert view is not None
    proof = f"preference centre, campaign {recipient.campaign_id}"
    written = 0
    with transaction.atomic():
        for topic in view.topics:
            wanted = topic.key in subscribed_topics
            if wanted != topic.subscribed:
                status = ConsentStatus.GRANTED if wanted else ConsentStatus.WITHDRAWN
                _state(actor, contact, topic.key, status, proof)
                written += 1
        if pause_months and view.status == "subscribed":
            until = pause_end(timezone.now(), pause_months)
            _state(actor, contact, settings.MESSAGING_CONSENT_PURPOSE, ConsentStatus.WITHDRAWN, proof, until=until)
            written += 1
    return written


def preferences_resume(*, recipient: Recipient, actor: Actor) -> bool:
    """End a pause now: email-marketing consent is granted again. False if there was none."""
    contact = _contact(recipient)
    view = preferences_of(contact.pk)
    if view is None or view.status != "paused":
        return False
    proof = f"pause ended early in the preference centre, campaign {recipient.campaign_id}"
    _state(actor, contact, settings.MESSAGING_CONSENT_PURPOSE, ConsentStatus.GRANTED, proof)
    return True


def _state(
    actor: Actor, contact: Contact, purpose: str, status: str, proof: str, until: dt.datetime | None = None
) -> None:
    consent_record(
        actor=actor,
        contact=contact,
        purpose=purpose,
        status=status,
        source=ConsentSource.EMAIL,
        proof=proof,
        ip_address=actor.ip,
        until=until,
    )
