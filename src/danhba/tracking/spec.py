"""Names of the Segment spec's email events (https://segment.com/docs/connections/spec/email/)
that danhba writes about its own campaigns (``messaging``) and that segments and the timeline
understand. Pure: names and their labels only.

"Email Sent" is danhba's word for "the mail server took the message": Segment's "Email
Delivered" is the receiving side's (an ESP's webhook), which danhba's SMTP sending cannot know.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

# The internal source danhba's email code writes its events to (``tracking.services.server``
# keys an internal source ``internal:<name>``): a write key can send events of the same names.
EMAIL_SOURCE = "email"
EMAIL_SOURCE_KEY = f"internal:{EMAIL_SOURCE}"
EMAIL_SENT = "Email Sent"
EMAIL_OPENED = "Email Opened"
EMAIL_CLICKED = "Email Link Clicked"
EMAIL_BOUNCED = "Email Bounced"
EMAIL_COMPLAINED = "Email Marked as Spam"
UNSUBSCRIBED = "Unsubscribed"

# How the timeline and the explorer name them.
EMAIL_EVENT_LABELS = {
    EMAIL_SENT: _("Email sent"),
    EMAIL_OPENED: _("Email opened"),
    EMAIL_CLICKED: _("Link clicked in an email"),
    EMAIL_BOUNCED: _("Email bounced"),
    EMAIL_COMPLAINED: _("Email marked as spam"),
    UNSUBSCRIBED: _("Unsubscribed from email"),
}
# The segment condition's actions (segments' ``email`` kind) and the events each one counts:
# a person who clicked has opened, even when the images stayed blocked.
EMAIL_ACTIONS = {
    "received": (EMAIL_SENT,),
    "opened": (EMAIL_OPENED, EMAIL_CLICKED),
    "clicked": (EMAIL_CLICKED,),
    "bounced": (EMAIL_BOUNCED,),
    "unsubscribed": (UNSUBSCRIBED,),
}
# Actions a machine can fake (Apple Mail Privacy Protection, link scanners): their events with
# ``"machine": true`` do not count.
HUMAN_ONLY = frozenset({"opened", "clicked"})
