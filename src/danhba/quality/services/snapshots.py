"""Asking for the dashboard's figures: the newest snapshot, computed now on a small site, else
by the worker (``tasks.quality_snapshot_job``)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.contacts.models import Contact
from danhba.core.actor import Actor
from danhba.core.errors import PermissionDenied
from danhba.quality.models import QualitySnapshot
from danhba.quality.services.dashboard import quality_snapshot_compute

# Below this many contacts a snapshot is computed in the request (well under a second).
INLINE_MAX_CONTACTS = 20_000


def dashboard_require(actor: Actor) -> None:
    """The dashboard counts every contact: it needs "quality: view" and a role that sees every
    record (a count over others' contacts would tell what the role may not see)."""
    user = actor.user
    if user is None or not user.can("quality", perms.VIEW):
        raise PermissionDenied(_("Your role may not see the data-quality dashboard."))
    if perms.record_scope_q(user) is not None:
        raise PermissionDenied(
            _("The data-quality dashboard counts every contact: it needs a role that sees all records.")
        )


def snapshot_latest(*, actor: Actor) -> QualitySnapshot | None:
    """The newest snapshot; when there is none yet, one computed now on a small site (else the
    job is queued and None returned)."""
    dashboard_require(actor)
    latest = QualitySnapshot.objects.order_by("-day").first()
    if latest is not None:
        return latest
    return snapshot_refresh(actor=actor)


def snapshot_refresh(*, actor: Actor) -> QualitySnapshot | None:
    """Compute the figures again: now on a small site, else queued (returns None)."""
    dashboard_require(actor)
    small = not Contact.objects.order_by("pk").values_list("pk", flat=True)[INLINE_MAX_CONTACTS:][:1]
    if small:
        return quality_snapshot_compute()
    from danhba.quality.tasks import quality_snapshot_job

    transaction.on_commit(quality_snapshot_job)
    return None
