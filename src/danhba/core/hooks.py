"""The one listener registry: how a lower app tells higher ones that something happened.

An app never imports the apps above it (shared/STYLE.md, "The floor plan"). When it must let
them know about a write — a contact changed, events were stored — it declares a :class:`Hook`
in one of its own modules and calls it; the higher apps attach their listeners in their
``AppConfig.ready()``::

    # contacts/changes.py (the lower app)
    CONTACTS_CHANGED: Hook[[ContactsChange], None] = Hook("contacts.changed", doc="…")
    CONTACTS_CHANGED(change)

    # segments/apps.py (a higher app)
    def ready(self) -> None:
        CONTACTS_CHANGED.connect(listeners.on_contacts_changed)

Calling a hook calls every listener in the order they were connected, synchronously, inside
the caller's transaction, and returns their answers in that order. A listener's exception
propagates to the caller: listeners are part of the write (a membership row, a webhook
delivery), so a failure rolls the write back rather than leaving it half told. These are not
Django signals: there is no sender filtering, no weak references, no ``dispatch_uid``, and one
place lists who listens: ``danhba hooks`` prints every hook with its listeners.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

# Every hook declared in the project, by name (filled as the declaring modules are imported).
HOOKS: dict[str, Hook[Any, Any]] = {}


def _key(fn: Callable[..., Any]) -> tuple[str, str]:
    return getattr(fn, "__module__", ""), getattr(fn, "__qualname__", repr(fn))


class Hook(Generic[P, R]):
    """A named point where listeners of higher apps are called. ``doc`` says when it is called
    and what the listeners get; the type parameters say how they are called and what they
    return."""

    def __init__(self, name: str, *, doc: str, registry: dict[str, Hook[Any, Any]] | None = None) -> None:
        registry = HOOKS if registry is None else registry
        if name in registry:
            raise ValueError(f"a hook named {name!r} is already declared")
        self.name = name
        self.doc = doc
        self._listeners: list[Callable[P, R]] = []
        registry[name] = self

    def connect(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Add a listener (after the ones already there). Connecting a function twice — or its
        namesake, as a module reloaded in tests would give — keeps the first: ``ready()`` may
        run more than once."""
        if _key(fn) not in {_key(f) for f in self._listeners}:
            self._listeners.append(fn)
        return fn

    def disconnect(self, fn: Callable[P, R]) -> None:
        """Remove a listener (tests that stand in for one)."""
        self._listeners = [f for f in self._listeners if _key(f) != _key(fn)]

    @property
    def listeners(self) -> tuple[Callable[P, R], ...]:
        return tuple(self._listeners)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> list[R]:
        return [fn(*args, **kwargs) for fn in list(self._listeners)]

    def __repr__(self) -> str:
        return f"<Hook {self.name}: {len(self._listeners)} listener(s)>"


def listener_name(fn: Callable[..., Any]) -> str:
    module, name = _key(fn)
    return f"{module}.{name}" if module else name


def hooks() -> list[Hook[Any, Any]]:
    """Every declared hook, by name."""
    return [HOOKS[name] for name in sorted(HOOKS)]
