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

:class:`Registry` is the same idea for contributions rather than calls: a lower app declares a
list (the panels of the contact page, the filters of the contact list…) and higher apps add to
it in ``ready()``; ``danhba hooks`` lists those too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
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


T = TypeVar("T")

# Every registry of contributions declared in the project, by name.
REGISTRIES: dict[str, Registry[Any]] = {}


class Registry(Generic[T]):
    """A named list of contributions that apps above the declaring one add in ``ready()``: the
    parts of a page, the filters of a list, the columns of an export. The declaring app walks
    it (in ``position`` order, then the order of adding) without importing who added what."""

    def __init__(self, name: str, *, doc: str, registry: dict[str, Registry[Any]] | None = None) -> None:
        registry = REGISTRIES if registry is None else registry
        if name in registry:
            raise ValueError(f"a registry named {name!r} is already declared")
        self.name = name
        self.doc = doc
        self._items: dict[str, tuple[int, int, T]] = {}
        self._added_by: dict[str, str] = {}
        registry[name] = self

    def add(self, key: str, item: T, *, position: int = 0, added_by: str = "") -> T:
        """Add ``item`` under ``key``; adding a key again replaces its item in place (``ready()``
        may run more than once)."""
        order = self._items[key][1] if key in self._items else len(self._items)
        self._items[key] = (position, order, item)
        # Who added it, for `danhba hooks`: the module that called add() (an app's apps.py).
        self._added_by[key] = added_by or sys._getframe(1).f_globals.get("__name__", "")
        return item

    def remove(self, key: str) -> None:
        self._items.pop(key, None)

    def __iter__(self) -> Iterator[T]:
        return iter([item for _pos, _order, item in sorted(self._items.values(), key=lambda e: e[:2])])

    def keys(self) -> list[str]:
        return [key for key, _entry in sorted(self._items.items(), key=lambda kv: kv[1][:2])]

    def added_by(self, key: str) -> str:
        return self._added_by.get(key, "")

    def items(self) -> list[tuple[str, T]]:
        return [(key, entry[2]) for key, entry in sorted(self._items.items(), key=lambda kv: kv[1][:2])]

    def get(self, key: str) -> T | None:
        entry = self._items.get(key)
        return entry[2] if entry else None

    def __repr__(self) -> str:
        return f"<Registry {self.name}: {', '.join(self.keys())}>"


def registries() -> list[Registry[Any]]:
    """Every declared registry, by name."""
    return [REGISTRIES[name] for name in sorted(REGISTRIES)]
