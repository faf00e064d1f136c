"""Shapes of the web forms REST API (``/api/capture``)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from danhba.contacts.schemas import In, omittable


class FormQuestionIn(In):
    target: str = Field(
        max_length=80, description='A contact field ("email", "phone", "full_name", …) or "custom:<key>".'
    )
    label: str = Field("", max_length=200)
    required: bool = False
    help: str = Field("", max_length=300)


class FormConsentIn(In):
    purpose: str = Field(max_length=60, description="A consent purpose's key (privacy).")
    text: str = Field(max_length=2000, description="The exact wording shown next to the checkbox.")
    required: bool = False


class WebFormIn(In):
    name: str = Field(max_length=200)
    slug: str = omittable("The public address /f/<slug>; made from the name when left out.")
    language: Literal["vi", "en"] = "vi"
    is_active: bool = True
    fields: list[FormQuestionIn] = Field(max_length=30)
    queue: list[FormQuestionIn] = Field([], max_length=30, description="Asked instead of answered questions.")
    consents: list[FormConsentIn] = Field([], max_length=5)
    submit_label: str = Field("", max_length=80)
    thanks_message: str = Field("", max_length=2000)
    redirect_url: str = Field("", max_length=500)
    double_opt_in: bool = False
    allowed_origins: list[str] = Field([], max_length=20, description="Sites that may embed it: https://shop.vn")
    min_fill_seconds: int = Field(0, ge=0, le=600)
    contact_tags: list[str] = Field([], max_length=10)


class WebFormPatch(In):
    name: str = omittable()
    slug: str = omittable()
    language: Literal["vi", "en"] = omittable()
    is_active: bool = omittable()
    fields: list[FormQuestionIn] = omittable()
    queue: list[FormQuestionIn] = omittable()
    consents: list[FormConsentIn] = omittable()
    submit_label: str = omittable()
    thanks_message: str = omittable()
    redirect_url: str = omittable()
    double_opt_in: bool = omittable()
    allowed_origins: list[str] = omittable()
    min_fill_seconds: int = omittable()
    contact_tags: list[str] = omittable()


class FormFiguresOut(Schema):
    views: int
    submissions: int
    conversion: float = Field(description="Submissions per view (0–1).")
    blocked: int
    blocked_honeypot: int
    blocked_too_fast: int
    blocked_rate: int
    failed: int


class WebFormOut(Schema):
    id: int
    name: str
    slug: str
    language: str
    is_active: bool
    fields: list[dict[str, Any]]
    queue: list[dict[str, Any]]
    consents: list[dict[str, Any]]
    submit_label: str
    thanks_message: str
    redirect_url: str
    double_opt_in: bool
    allowed_origins: list[str]
    min_fill_seconds: int
    contact_tags: list[str]
    hosted_url: str
    script_embed: str
    iframe_embed: str
    figures: FormFiguresOut
    created_at: dt.datetime
    updated_at: dt.datetime


class WebFormList(Schema):
    items: list[WebFormOut]


class FormSubmissionOut(Schema):
    id: int
    form_id: int
    status: str
    payload: dict[str, Any]
    consents: list[dict[str, Any]]
    utm: dict[str, str]
    page_url: str
    referrer: str
    contact_id: int | None
    created_contact: bool
    error: str
    attempts: int
    confirmed_at: dt.datetime | None
    created_at: dt.datetime
    processed_at: dt.datetime | None


class FormSubmissionPage(Schema):
    items: list[FormSubmissionOut]
    next_cursor: str | None
