from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class _Can:
    """``{{ can.contact.edit }}`` in templates."""

    def __init__(self, user: Any) -> None:
        self.user = user

    def __getitem__(self, obj: str) -> dict[str, bool]:
        role = self.user.role
        return {action: role.allows(obj, action) for action in ("view", "create", "edit", "delete", "export")}

    def __getattr__(self, obj: str) -> dict[str, bool]:
        if obj.startswith("_"):
            raise AttributeError(obj)
        return self[obj]


def access(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"can": _Can(user)}
