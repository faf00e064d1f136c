"""The MX lookups of email domains, cached in ``MailDomain`` with a time to live
(``QUALITY_MX_TTL_DAYS``; a failed lookup is tried again after an hour). The lookup is an
argument (``decay.dns_has_mail`` by default): tests pass a dictionary's ``__getitem__``, never
the network. When a domain's answer changes, the contacts whose primary email is there are
marked for their freshness to be computed again."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from danhba.contacts.models import Contact
from danhba.quality import decay
from danhba.quality.models import MailDomain
from danhba.quality.services.freshness import freshness_mark

RETRY_FAILED = dt.timedelta(hours=1)


def mail_domains_check(
    *, lookup: decay.MxLookup | None = None, limit: int = 200, now: dt.datetime | None = None
) -> int:
    """Look up the domains never looked up or whose answer expired, oldest first; returns how
    many were looked up."""
    lookup = lookup or decay.dns_has_mail
    now = now or timezone.now()
    due = list(
        MailDomain.objects.filter(Q(expires_at__isnull=True) | Q(expires_at__lte=now)).order_by("expires_at", "pk")[
            :limit
        ]
    )
    for row in due:
        before = row.has_mail
        try:
            row.has_mail, row.error = bool(lookup(row.domain)), ""
            row.expires_at = now + dt.timedelta(days=settings.QUALITY_MX_TTL_DAYS)
        except decay.LookupFailed as exc:
            row.error = str(exc)[:120]
            row.expires_at = now + RETRY_FAILED
        except KeyError:  # a test's dictionary without the domain: nothing known
            row.error = "unknown"
            row.expires_at = now + RETRY_FAILED
        row.checked_at = now
        row.save(update_fields=["has_mail", "error", "expires_at", "checked_at"])
        if row.has_mail != before:
            freshness_mark(
                contact_ids=Contact.objects.filter(email__iendswith="@" + row.domain).values_list("pk", flat=True)
            )
    return len(due)
