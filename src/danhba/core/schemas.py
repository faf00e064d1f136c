"""API shapes every app shares."""

from __future__ import annotations

from typing import Any

from ninja import Schema
from pydantic import Field


class ErrorOut(Schema):
    code: str = Field(description="Stable machine-readable code, e.g. `invalid`, `not_found`, `conflict`.")
    message: str
    details: Any = Field(
        description="For service validation errors: {field: [messages]}; for request validation "
        "errors: [{loc, msg}]; else an object with more facts (e.g. `contact_id` on a conflict)."
    )
