"""What a role can do: objects × actions, record scope and sensitive fields.

Kept apart from the models so views, the API and services share one vocabulary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Q
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from danhba.core.actor import Actor

VIEW, CREATE, EDIT, DELETE, EXPORT = "view", "create", "edit", "delete", "export"
ACTIONS = (VIEW, CREATE, EDIT, DELETE, EXPORT)
ACTION_LABELS = {VIEW: _("view"), CREATE: _("create"), EDIT: _("edit"), DELETE: _("delete"), EXPORT: _("export")}

OBJECTS = {
    "contact": _("Contacts"),
    "company": _("Companies"),
    "timeline": _("Timeline entries"),
    "tag": _("Tags"),
    "consent": _("Consent records"),
    "customfield": _("Custom fields"),
    "audit": _("Audit log"),
    "user": _("Users"),
    "role": _("Roles"),
    "apikey": _("API keys"),
    "import": _("Imports"),
    "source": _("Event sources"),
    "event": _("Events"),
    "order": _("Orders and products"),
    "webhook": _("Webhooks"),
    "segment": _("Segments and lists"),
    "email": _("Email templates and campaigns"),
    "emaildomain": _("Sending domains"),
    "score": _("Lead scoring models"),
    "workflow": _("Workflows"),
    "pipeline": _("Pipelines and lost reasons"),
    "deal": _("Deals"),
    "task": _("Tasks and appointments"),
    "form": _("Web forms"),
    "submission": _("Form submissions"),
    "channel": _("Lead channels (Facebook, Zalo)"),
    "merge": _("Contact merges"),
    "quality": _("Data quality (decay, cleaning, dashboard)"),
    "duplicate": _("Duplicates (review queue)"),
}

SCOPE_OWN = "own"  # own contacts and unassigned ones
SCOPE_TEAM = "team"  # contacts of anyone in the user's team, and unassigned ones
SCOPE_ALL = "all"
SCOPES = [
    (SCOPE_OWN, _("Own and unassigned records")),
    (SCOPE_TEAM, _("Team's and unassigned records")),
    (SCOPE_ALL, _("All records")),
]

ALL_FIELDS = "*"
# Standard contact fields treated as sensitive personal data: hidden from roles that are not
# granted them. Custom fields add themselves with their own "sensitive" flag.
SENSITIVE_STANDARD_FIELDS = {
    "birthday": _("Birthday"),
    "gender": _("Gender"),
    "income_band": _("Income band"),
    "family": _("Family"),
    "private_notes": _("Private timeline notes"),
}

_CRUD = [VIEW, CREATE, EDIT, DELETE]
_READ = [VIEW]

BUILTIN_ROLES: dict[str, dict[str, Any]] = {
    "admin": {
        "name": gettext_noop("Admin"),
        "scope": SCOPE_ALL,
        "sensitive": [ALL_FIELDS],
        "permissions": {obj: list(ACTIONS) for obj in OBJECTS},
    },
    "marketing": {
        "name": gettext_noop("Marketing"),
        "scope": SCOPE_ALL,
        "sensitive": ["birthday", "gender"],
        "permissions": {
            "contact": [*_CRUD, EXPORT],
            "company": [*_CRUD, EXPORT],
            "timeline": [VIEW, CREATE, EDIT],
            "tag": _CRUD,
            "consent": [VIEW, CREATE],
            "customfield": _READ,
            "import": [VIEW, CREATE, DELETE],
            "event": _READ,
            "order": [VIEW, EXPORT],
            "segment": [*_CRUD, EXPORT],
            "email": _CRUD,
            "emaildomain": _READ,
            "score": _CRUD,
            "workflow": _CRUD,
            "pipeline": _READ,
            "deal": [VIEW, EXPORT],
            "task": _READ,
            "form": _CRUD,
            "submission": [VIEW, EDIT, EXPORT],
            "channel": _CRUD,
            "merge": [VIEW, CREATE, DELETE],
            "quality": [VIEW, CREATE, EDIT],
            "duplicate": [VIEW, EDIT],
        },
    },
    "sales": {
        "name": gettext_noop("Sales"),
        "scope": SCOPE_OWN,
        "sensitive": [],
        "permissions": {
            "contact": [VIEW, CREATE, EDIT],
            "company": [VIEW, CREATE, EDIT],
            "timeline": [VIEW, CREATE, EDIT],
            "tag": _READ,
            "consent": [VIEW, CREATE],
            "customfield": _READ,
            "import": [VIEW, CREATE],
            "event": _READ,
            "order": _READ,
            "segment": _READ,
            "email": _READ,
            "score": _READ,
            "workflow": _READ,
            "pipeline": _READ,
            "deal": [*_CRUD, EXPORT],
            "task": _CRUD,
            "submission": _READ,
        },
    },
    "support": {
        "name": gettext_noop("Support"),
        "scope": SCOPE_ALL,
        "sensitive": [],
        "permissions": {
            "contact": [VIEW, EDIT],
            "company": _READ,
            "timeline": [VIEW, CREATE, EDIT],
            "tag": _READ,
            "consent": [VIEW, CREATE],
            "customfield": _READ,
            "event": _READ,
            "order": _READ,
            "segment": _READ,
            "email": _READ,
            "score": _READ,
            "workflow": _READ,
            "pipeline": _READ,
            "deal": _READ,
            "task": [VIEW, CREATE, EDIT],
            "submission": _READ,
            "duplicate": _READ,
        },
    },
    "analyst": {
        "name": gettext_noop("Analyst"),
        "scope": SCOPE_ALL,
        "sensitive": [],
        "permissions": {
            "contact": [VIEW, EXPORT],
            "company": [VIEW, EXPORT],
            "timeline": _READ,
            "tag": _READ,
            "consent": _READ,
            "customfield": _READ,
            "import": _READ,
            "event": [VIEW, EXPORT],
            "order": [VIEW, EXPORT],
            "segment": [VIEW, EXPORT],
            "email": _READ,
            "score": [VIEW, EXPORT],
            "workflow": _READ,
            "pipeline": _READ,
            "deal": [VIEW, EXPORT],
            "task": _READ,
            "form": _READ,
            "submission": _READ,
            "merge": _READ,
            "quality": [VIEW, EXPORT],
            "duplicate": _READ,
        },
    },
}


def record_scope_q(user: Any, field: str = "owner") -> Q | None:
    """The condition on a record's ``field`` (its owner) that the user's record scope allows:
    own and unassigned, the team's and unassigned, or None for all records."""
    scope = user.role.record_scope
    if scope == SCOPE_ALL:
        return None
    if scope == SCOPE_TEAM and user.team_id:
        return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__team_id": user.team_id})
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}_id": user.pk})


def require(actor: Actor, obj: str, action: str) -> None:
    """Raise PermissionDenied unless the actor's role allows ``action`` on ``obj``. The system
    (an actor without a user: CLI, jobs) may do anything."""
    from danhba.core.errors import PermissionDenied

    if actor.user is not None and not actor.user.can(obj, action):
        raise PermissionDenied(
            gettext("Your role lacks the permission “%(object)s: %(action)s”.")
            % {"object": OBJECTS.get(obj, obj), "action": ACTION_LABELS.get(action, action)}
        )
