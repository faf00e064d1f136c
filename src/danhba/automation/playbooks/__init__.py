"""The playbooks automation ships: ready-made workflows a user installs, then adjusts.

Each playbook is data in its own module (``hot_lead.py``, ``lost_deal.py``…): a name and a
description (translated), the trigger, the steps as the same graph JSON any workflow has (checked
by ``graph.graph_clean`` when installed), the emails it sends (bilingual copy, Vietnamese first:
the recipient's language is not known) and the tags it uses. An email step names its email by
key (``{"template": "@thanks"}``); installing makes the template and puts its id there
(``services/playbooks.py``). Pure: nothing here writes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.functional import Promise


@dataclass(frozen=True)
class Email:
    """One email of a playbook: its template's title, subject, preheader and HTML body (Liquid:
    ``{{ contact.given_name }}``, ``{{ xung_ho }}``, ``{{ links.preferences }}``…)."""

    title: str
    subject: str
    preheader: str
    body: str


@dataclass
class Context:
    """What an install knows of the site: the score model a hot-lead trigger watches, the email
    topics a welcome series asks about."""

    score_model: int | None = None
    hot_grade: str = ""
    # The model's lowest grade ("cold"): where a playbook's "mark them cold" puts a score.
    cold_grade: str = ""
    topics: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Playbook:
    key: str
    name: str | Promise
    description: str | Promise
    # What it will do, one line per stage of the path (the gallery's list).
    outline: tuple[str | Promise, ...]
    trigger: Callable[[Context], dict[str, Any]]
    graph: Callable[[Context], dict[str, Any]]
    emails: dict[str, Email] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    # Tags that depend on the site (a welcome series' topics).
    extra_tags: Callable[[Context], list[str]] = lambda ctx: []
    reenrol: str = "once"
    # Email playbooks send in the daytime, every day (the recipient's local time).
    window: dict[str, Any] = field(default_factory=dict)
    # Returns why it cannot be installed on this site ("" when it can).
    missing: Callable[[Context], str] = lambda ctx: ""


DAYTIME = {"days": [0, 1, 2, 3, 4, 5, 6], "start": "08:00", "end": "20:00"}
DAY = 86400


def email(template: str, topic: str = "") -> dict[str, Any]:
    """An email step's params naming the playbook's email ``template`` by key."""
    return {"template": f"@{template}", "topic": topic}


def wait_days(days: int) -> dict[str, Any]:
    return {"seconds": days * DAY}


def event_in_days(name: str, days: int, where: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A segment condition: performed the event (with these properties) in the last N days."""
    return {
        "op": "all",
        "conditions": [
            {"kind": "event", "name": name, "where": where or [], "count": {"operator": "gte", "value": 1},
             "period": {"last_days": days}}
        ],
    }  # fmt: skip


def field_is(name: str, value: Any) -> dict[str, Any]:
    return {"op": "all", "conditions": [{"kind": "field", "field": name, "operator": "eq", "value": value}]}


def consent_granted(purpose: str) -> dict[str, Any]:
    return {"op": "all", "conditions": [{"kind": "consent", "purpose": purpose, "status": "granted"}]}


def greeting_vi() -> str:
    return '<p>Chào {{ xung_ho | default: "bạn" }} {{ contact.given_name | default: contact.name }},</p>'


def greeting_en() -> str:
    return "<p>Hi {{ contact.given_name | default: contact.name }},</p>"


def bilingual(vi: str, en: str) -> str:
    """The HTML body: the Vietnamese letter, then the English one under a rule."""
    return (
        f'<div lang="vi">{greeting_vi()}{vi}</div>'
        '<hr style="border:none;border-top:1px solid #e5e7eb;margin:28px 0">'
        f'<div lang="en"><p style="color:#6b7280;font-size:13px">English version</p>{greeting_en()}{en}</div>'
    )


def all_playbooks() -> list[Playbook]:
    from danhba.automation.playbooks import hot_lead, lost_deal, retention, role_nurture, stuck_lead, welcome

    return [m.PLAYBOOK for m in (hot_lead, lost_deal, stuck_lead, welcome, role_nurture, retention)]


def playbook(key: str) -> Playbook | None:
    return next((p for p in all_playbooks() if p.key == key), None)
