"""Shapes of the accounts API (``/api/me``)."""

from __future__ import annotations

from ninja import Schema
from pydantic import Field


class RoleOut(Schema):
    key: str
    name: str
    record_scope: str
    permissions: dict[str, list[str]]


class MeOut(Schema):
    id: int
    email: str
    full_name: str
    role: RoleOut
    team: str | None
    language: str
    hidden_fields: list[str] = Field(description="Sensitive fields this user may neither see nor write.")
    auth: str = Field(description="`api_key` or `session`.")
