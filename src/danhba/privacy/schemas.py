"""Shapes of the consent API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from ninja import Schema
from pydantic import Field, IPvAnyAddress

from danhba.contacts.schemas import In, When
from danhba.privacy.models import ConsentSource, ConsentStatus


class ConsentIn(In):
    purpose: Annotated[
        str, Field(min_length=1, max_length=60, description="A consent purpose key.", examples=["email_marketing"])
    ]
    status: ConsentStatus
    source: ConsentSource = ConsentSource.API
    proof: Annotated[str, Field(max_length=10_000)] = Field("", description="Form URL, file name, note of a call…")
    text_version: Annotated[str, Field(max_length=60)] = ""
    recorded_at: When | None = Field(None, description="When the person said it; defaults to now.")
    ip_address: IPvAnyAddress | None = Field(
        None, description="The address of the person giving consent; defaults to the caller's address."
    )


class ConsentStateOut(Schema):
    purpose: str
    label: str
    status: str | None = Field(description="null when the contact never said anything for this purpose.")
    granted: bool
    since: dt.datetime | None


class ConsentRecordOut(Schema):
    id: int
    purpose: str
    status: str
    source: str
    recorded_at: dt.datetime
    proof: str
    text_version: str
    ip_address: str | None
    recorded_by: int | None


class ConsentOut(Schema):
    current: list[ConsentStateOut]
    ledger: list[ConsentRecordOut] = Field(description="The newest statements first.")


class ConsentPurposeOut(Schema):
    key: str
    name: str
    name_vi: str
    description: str
