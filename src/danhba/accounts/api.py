"""``GET /api/me``: who the key or session acts as, so a client can tell what it may do."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from danhba.accounts.api_auth import api_user
from danhba.accounts.hooks import hidden_fields
from danhba.accounts.schemas import MeOut
from danhba.core.schemas import ErrorOut

router = Router(tags=["me"])


@router.get("/me", response={200: MeOut, frozenset({401}): ErrorOut}, summary="The caller")
def me(request: HttpRequest) -> dict[str, Any]:
    user = api_user(request)
    role = user.role
    return {
        "id": user.pk,
        "email": user.email,
        "full_name": user.full_name,
        "role": {
            "key": role.key,
            "name": role.name,
            "record_scope": role.record_scope,
            "permissions": role.permissions,
        },
        "team": str(user.team) if user.team_id else None,
        "language": user.language,
        "hidden_fields": sorted(hidden_fields(user)),
        "auth": "api_key" if getattr(request, "api_key", None) is not None else "session",
    }
