"""What every app needs to know about the audit log, from below every app.

- :func:`jsonable` and :func:`changes_between`: how a change is stored in an audit row (pure).
- :func:`record`: a sink for the audited writes of apps that sit *below* the ``audit`` app
  (accounts: users, roles, API keys, logins). They cannot import ``audit.services`` (the floor
  plan), so they call this, and the audit app installs its writer here in ``ready()``. There is
  exactly one writer, and an audited write with none installed is an error, not a silent loss.
  Apps above ``audit`` call ``danhba.audit.services.audit_event`` directly.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

# The actions of an audit row (``audit.models.AuditEvent.Action`` names them for people).
CREATE, UPDATE, DELETE, VIEW, EXPORT = "create", "update", "delete", "view", "export"
LOGIN, LOGIN_FAILED, LOGOUT = "login", "login_failed", "logout"


_SCALARS = frozenset({str, int, float, bool, type(None)})


def jsonable(value: Any) -> Any:
    """``value`` as JSON can hold it: dates and times in ISO 8601, tuples as lists, anything
    else that is not a JSON scalar as its text."""
    if type(value) in _SCALARS:  # most values: said first (an audit row per new contact)
        return value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    # The scalars inside are taken as they are without a call each (the event worker's new
    # contacts: 25 calls a contact before).
    if isinstance(value, (list, tuple)):
        return [v if type(v) in _SCALARS else jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: v if type(v) in _SCALARS else jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


# Values that count as no value in a change (a tuple built once: "in" it compares each).
_EMPTY: tuple[Any, ...] = ("", [], {}, None)


def changes_between(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Changed keys as {key: [before, after]} for an audit row; empty values ("", [], None)
    count as equal."""
    if not before:
        # A new row (one audit row per contact the event worker creates): each value against
        # nothing, without a look-up in an empty dict per key.
        return {k: [None, v] for k, v in after.items() if v not in _EMPTY}
    changed: dict[str, list[Any]] = {}
    for k in dict.fromkeys([*before, *after]):
        old, new = before.get(k), after.get(k)
        if (None if old in _EMPTY else old) != (None if new in _EMPTY else new):
            changed[k] = [old, new]
    return changed


class Writer(Protocol):
    def __call__(
        self,
        *,
        actor: Any,
        action: str,
        object_type: str,
        object_id: Any = "",
        object_label: str = "",
        contact_id: int | None = None,
        changes: dict[str, Any] | None = None,
    ) -> Any: ...


_writer: Writer | None = None


def install(writer: Writer) -> None:
    """Called once by the audit app's ``ready()``."""
    global _writer
    _writer = writer


def record(
    *,
    actor: Any,
    action: str,
    object_type: str,
    object_id: Any = "",
    object_label: str = "",
    contact_id: int | None = None,
    changes: dict[str, Any] | None = None,
) -> Any:
    """Append one audit row through the installed writer (same arguments as ``audit_event``)."""
    if _writer is None:
        raise RuntimeError("no audit writer installed: is danhba.audit in INSTALLED_APPS?")
    return _writer(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_label=object_label,
        contact_id=contact_id,
        changes=changes,
    )
