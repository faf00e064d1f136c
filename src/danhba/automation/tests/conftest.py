from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest

from danhba.automation.models import Workflow
from danhba.automation.services.workflows import workflow_create, workflow_set_status
from danhba.conftest import actor_for

# A Tuesday, 10:00 in Hồ Chí Minh City (03:00 UTC): inside a weekday 08:00–20:00 window.
T0 = dt.datetime(2026, 12, 8, 3, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def tag_is(name: str) -> dict[str, Any]:
    return {"op": "all", "conditions": [{"kind": "tag", "operator": "any", "tags": [name]}]}


def three_steps(wait: int = 3600) -> dict[str, Any]:
    """Update a field, wait, then tag by a branch (the benchmark's workflow)."""
    return {
        "start": "title",
        "steps": {
            "title": {"kind": "update_field", "params": {"field": "job_title", "value": "Khách quen"}, "next": "pause"},
            "pause": {"kind": "wait", "params": {"seconds": wait}, "next": "vip"},
            "vip": {
                "kind": "branch",
                "params": {"branches": [{"condition": tag_is("vip"), "next": "tag_vip"}], "otherwise": "tag_rest"},
            },
            "tag_vip": {"kind": "tag", "params": {"add": ["vip-nurtured"]}},
            "tag_rest": {"kind": "tag", "params": {"add": ["nurtured"]}},
        },
    }


@pytest.fixture
def make_workflow(admin: Any) -> Callable[..., Workflow]:
    def make(graph: dict[str, Any] | None = None, active: bool = True, **data: Any) -> Workflow:
        data.setdefault("name", "Chăm sóc khách")
        wf = workflow_create(actor=actor_for(admin), data={"graph": graph or three_steps(), **data})
        if active:
            wf = workflow_set_status(actor=actor_for(admin), workflow=wf, status=Workflow.Status.ACTIVE)
        return wf

    return make


class _FormReader(HTMLParser):
    """The fields of each form of a page, as a browser sends them (see :func:`form_data`)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[list[tuple[str, str]]] = []
        self.fieldsets: list[bool] = []  # disabled or not, innermost last
        self.select: tuple[str, list[tuple[str, bool]]] | None = None
        self.textarea: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append([])
        elif tag == "fieldset":
            self.fieldsets.append("disabled" in a)
        elif self.forms and not any(self.fieldsets) and "disabled" not in a and (a.get("name") or tag == "option"):
            self._field(tag, a)

    def _field(self, tag: str, a: dict[str, str]) -> None:
        kind = a.get("type", "text")
        if tag == "input" and kind not in ("submit", "button", "image"):
            if kind not in ("checkbox", "radio") or "checked" in a:
                self.forms[-1].append((a["name"], a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select":
            self.select = (a["name"], [])
        elif tag == "option" and self.select is not None:
            self.select[1].append((a.get("value", ""), "selected" in a))
        elif tag == "textarea":
            self.textarea = (a["name"], [])

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.textarea[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "fieldset" and self.fieldsets:
            self.fieldsets.pop()
        elif tag == "select" and self.select is not None:
            name, options = self.select
            chosen = [v for v, on in options if on] or [v for v, _on in options[:1]]
            self.forms[-1].extend((name, v) for v in chosen)
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            name, parts = self.textarea
            self.forms[-1].append((name, "".join(parts).removeprefix("\n")))
            self.textarea = None


def form_data(html: str) -> dict[str, Any]:
    """What a browser sends for a page's main form (the one with most fields): its named inputs,
    checked boxes, chosen options and text areas, without those in a disabled fieldset or the
    submit buttons. A name given more than once gives a list."""
    reader = _FormReader()
    reader.feed(html)
    out: dict[str, Any] = {}
    for name, value in max(reader.forms, key=len):
        if name in out:
            out[name] = [*out[name], value] if isinstance(out[name], list) else [out[name], value]
        else:
            out[name] = value
    return out
