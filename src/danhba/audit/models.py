"""The audit log: who did what to which record, when and through which door.

Insert-only: the ORM refuses to change or delete a row (``core.models.InsertOnlyModel``) and so
does the database (triggers made by ``privacy`` migration 0002, when the table was privacy's:
UPDATE and DELETE on PostgreSQL; UPDATE on SQLite, whose test-database flush must still be able
to empty tables). The table keeps its first name, ``privacy_auditevent``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from danhba.core.models import InsertOnlyModel


class AuditEvent(InsertOnlyModel):
    class Action(models.TextChoices):
        CREATE = "create", _("created")
        UPDATE = "update", _("changed")
        DELETE = "delete", _("deleted")
        VIEW = "view", _("opened")
        EXPORT = "export", _("exported")
        LOGIN = "login", _("logged in")
        LOGIN_FAILED = "login_failed", _("failed to log in")
        LOGOUT = "logout", _("logged out")

    class Via(models.TextChoices):
        UI = "ui", _("Web UI")
        API = "api", "API"
        CLI = "cli", _("Command line")
        JOB = "job", _("Background job")

    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # Who it was at the time, kept if the user is later deleted.
    actor_label = models.CharField(max_length=254, blank=True)
    via = models.CharField(max_length=5, choices=Via.choices)
    action = models.CharField(max_length=20, choices=Action.choices)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=64, blank=True)
    object_label = models.CharField(max_length=254, blank=True)
    # Not a foreign key: the trail must outlive the contact it is about.
    contact_id = models.BigIntegerField(null=True, blank=True)
    changes = models.JSONField(default=dict, blank=True)  # {"field": [before, after]}
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)

    class Meta:
        db_table = "privacy_auditevent"
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["contact_id", "at"], name="audit_contact_at"),
            models.Index(fields=["at", "id"], name="audit_at_id"),
            models.Index(fields=["actor", "at"], name="audit_actor_at"),
        ]


# The columns of a raw audit row (``core.bulk.Table``), for writers that insert thousands at once.
AUDIT_COLUMNS = [
    "at", "actor_id", "actor_label", "via", "action", "object_type", "object_id", "object_label", "contact_id",
    "changes", "ip_address", "user_agent",
]  # fmt: skip
