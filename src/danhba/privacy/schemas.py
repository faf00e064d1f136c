"""Shapes of the consent API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from ninja import Schema
from pydantic import Field, IPvAnyAddress

from danhba.contacts.schemas import In, When, omittable
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
    until: dt.datetime | None = Field(description="Withdrawn until this time: a pause of email.")


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
    until: dt.datetime | None = Field(description="A withdrawal for a while (a pause): granted again after.")


class ConsentOut(Schema):
    current: list[ConsentStateOut]
    ledger: list[ConsentRecordOut] = Field(description="The newest statements first.")


class ConsentPurposeOut(Schema):
    key: str
    name: str
    name_vi: str
    description: str
    position: int
    is_active: bool
    email_topic: bool = Field(
        description="An email topic: offered in the preference centre; campaigns about it skip who opted out."
    )


class ConsentPurposeIn(In):
    key: Annotated[str, Field(max_length=60, description="Made from the name when left out; never changes.")] = ""
    name: Annotated[str, Field(min_length=1, max_length=120, description="In English.")]
    name_vi: Annotated[str, Field(max_length=120)] = ""
    description: Annotated[str, Field(max_length=2000)] = ""
    position: Annotated[int, Field(ge=0, le=32000)] | None = None
    is_active: bool = True
    email_topic: bool = False


class ConsentPurposePatch(In):
    name: Annotated[str, Field(min_length=1, max_length=120)] = omittable()
    name_vi: Annotated[str, Field(max_length=120)] = omittable()
    description: Annotated[str, Field(max_length=2000)] = omittable()
    position: Annotated[int, Field(ge=0, le=32000)] = omittable()
    is_active: bool = omittable()
    email_topic: bool = omittable()
