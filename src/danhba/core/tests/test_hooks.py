"""The listener registry: order, idempotent connect, exceptions reach the caller, the listing."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from danhba.core.hooks import HOOKS, Hook


def _first(*, value: int) -> str:
    return f"first {value}"


def _second(*, value: int) -> str:
    return f"second {value}"


def test_listeners_are_called_in_connection_order_and_answer_in_order() -> None:
    hook: Hook[..., str] = Hook("test.order", doc="A test hook.", registry={})
    hook.connect(_second)
    hook.connect(_first)
    hook.connect(_second)  # again: still once, in its first place
    assert hook(value=3) == ["second 3", "first 3"]


def test_a_listener_exception_reaches_the_caller() -> None:
    hook: Hook[..., None] = Hook("test.raise", doc="A test hook.", registry={})

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("listener failed")

    hook.connect(broken)
    with pytest.raises(RuntimeError, match="listener failed"):
        hook()


def test_a_name_is_declared_once() -> None:
    registry: dict[str, Hook[..., Any]] = {}
    Hook("test.twice", doc="", registry=registry)
    with pytest.raises(ValueError, match="already declared"):
        Hook("test.twice", doc="", registry=registry)


def test_the_hooks_command_lists_every_hook_and_its_listeners() -> None:
    out = StringIO()
    call_command("hooks", stdout=out)
    text = out.getvalue()
    for name, hook in HOOKS.items():
        assert name in text
        for fn in hook.listeners:
            assert fn.__qualname__ in text
