"""Shared fixtures: one user per built-in role, actors, and a contact factory.

Tests marked ``slow`` or ``browser`` are left out of a plain ``pytest`` run; ``make test`` and
CI run them (``DANHBA_SLOW=1``), as does ``pytest -m slow`` (any ``-m`` expression decides by
itself).

PostgreSQL, Redis and Chromium tests skip with a reason when the service is missing, unless
``DANHBA_REQUIRE_SERVICES=1`` (set by ``.ci/run``), which turns every such skip into a failure.

A PostgreSQL run runs only what the database can change (``pytest_collection_modifyitems``);
a plain run tries fewer hypothesis examples (``core/tests/properties.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from danhba.core.actor import Actor
from danhba.core.tests import left_out
from danhba.core.tests.properties import load_dev_profile

REQUIRE_SERVICES = os.getenv("DANHBA_REQUIRE_SERVICES", "") in ("1", "true", "yes")
# Tests marked slow run in `make test` and CI (which set DANHBA_SLOW=1), or when asked for with
# -m; a plain `pytest` leaves them out to stay fast.
RUN_SLOW = REQUIRE_SERVICES or os.getenv("DANHBA_SLOW", "") in ("1", "true", "yes")
# Browser tests start Chromium and a live server (5-12 s each): slow by nature.
SLOW_MARKERS = ("slow", "browser")
# pytest-django's fixtures that open the test database (``live_server`` asks for
# ``transactional_db`` only when it starts, so it is named too). ``django_db_blocker`` is not
# here: every test has it in its fixture closure (pytest-django's autouse unittest fixture).
DATABASE_FIXTURES = frozenset(
    {
        "_django_db_helper",
        "django_db_setup",
        "db",
        "transactional_db",
        "django_db_reset_sequences",
        "django_db_serialized_rollback",
        "live_server",
    }
)
# ``database``: a test that reaches the run's database another way (a subprocess given the run's
# DATABASE_URL).
DATABASE_MARKERS = ("django_db", "database", "postgres")
ROLE_KEYS = ("admin", "marketing", "sales", "support", "analyst")
PASSWORD = "correct-horse-battery-9"

if not RUN_SLOW:
    load_dev_profile()


def skip_or_fail(reason: str) -> None:
    """Skip on a user's machine; fail in CI where every service must be present."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing in CI: {reason}")
    pytest.skip(reason)


def _deselect(config: Any, items: list[Any], left_out: list[Any]) -> None:
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        gone = set(left_out)
        items[:] = [item for item in items if item not in gone]


def _marked(items: list[Any], *markers: str) -> list[Any]:
    return [item for item in items if any(item.get_closest_marker(m) for m in markers)]


def _leave_out(config: Any, items: list[Any], left_out_now: list[Any], reason: str) -> None:
    """Deselect (not skip: no skip may hide in a green CI) and say why in the run's summary."""
    _deselect(config, items, left_out_now)
    left_out.note(config, len(left_out_now), reason)


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Slow tests are deselected from a plain run (``RUN_SLOW``). PostgreSQL-only tests: on a
    SQLite run they skip with the reason on a user's machine; in CI (which runs the suite a
    second time on PostgreSQL) they are deselected from the SQLite pass, so no skip is hidden
    behind a green run.

    A PostgreSQL run (CI's second pass) runs only what the database can change (decision 0028):
    it leaves out the tests marked ``sqlite`` (SQLite's own plans and settings), the browser
    tests (they drive the same pages as on SQLite, where they ran; a browser test about the
    database is marked ``database`` too), and every test that reaches no database (see
    ``_reaches_database``): it would test the same code again. The summary says how many."""
    from django.conf import settings

    _require_serialized_rollback(items)
    if not RUN_SLOW and not config.getoption("markexpr", ""):
        _deselect(config, items, _marked(items, *SLOW_MARKERS))
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        _leave_out(config, items, _marked(items, "sqlite"), "tests marked sqlite (SQLite's own behaviour)")
        browser = [item for item in _marked(items, "browser") if not item.get_closest_marker("database")]
        _leave_out(config, items, browser, "browser tests (the same pages ran in the SQLite pass)")
        no_database = [item for item in items if not _reaches_database(item)]
        _leave_out(config, items, no_database, "tests that use no database (they ran in the SQLite pass)")
    elif REQUIRE_SERVICES:
        _leave_out(config, items, _marked(items, "postgres"), "tests marked postgres (the PostgreSQL pass runs them)")
    else:
        reason = "needs PostgreSQL: run with DATABASE_URL=postgres://… (make test does when PostgreSQL is reachable)"
        for item in _marked(items, "postgres"):
            item.add_marker(pytest.mark.skip(reason=reason))


def _reaches_database(item: Any) -> bool:
    """A test reaches the test database through a marker (``django_db``; ``database`` for a
    subprocess on the run's database), one of pytest-django's database fixtures anywhere in its
    fixture closure, or ``django_db_blocker`` asked for by the test or by one of danhba's
    fixtures (``module_data``). Anything else is blocked from the database by pytest-django."""
    from django.test import TransactionTestCase

    if any(item.get_closest_marker(marker) for marker in DATABASE_MARKERS):
        return True
    cls = getattr(item, "cls", None)
    info = getattr(item, "_fixtureinfo", None)
    if info is None or (cls is not None and issubclass(cls, TransactionTestCase)):
        return True  # not a plain test function: kept rather than guessed about
    if DATABASE_FIXTURES.intersection(item.fixturenames):
        return True
    return "django_db_blocker" in info.argnames or any(
        "django_db_blocker" in fixturedef.argnames and not fixturedef.func.__module__.startswith("pytest_django")
        for fixturedefs in info.name2fixturedefs.values()
        for fixturedef in fixturedefs
    )


def _require_serialized_rollback(items: list[Any]) -> None:
    """A transactional test empties every table when it ends, the roles and settings that
    migrations seed included; without ``serialized_rollback`` the tests after it (on the same
    xdist worker) find no roles, and the next one that restores the seed collides with the
    content types the flush recreated. That happened on PostgreSQL only, where the test ran."""
    bare = [
        item.nodeid
        for item in items
        if (marker := item.get_closest_marker("django_db"))
        and marker.kwargs.get("transaction")
        and not marker.kwargs.get("serialized_rollback")
    ]
    if bare:
        raise pytest.UsageError("transactional tests need serialized_rollback=True as well: " + ", ".join(sorted(bare)))


@pytest.fixture(autouse=True, scope="session")
def _english_site_default() -> Iterator[None]:
    """A new install speaks Vietnamese; the suite's requests without Accept-Language get
    English, which most tests assert. ``core/tests/test_formatting.py`` checks the real default."""
    from django.test import override_settings

    with override_settings(LANGUAGE_CODE="en"):
        yield


@pytest.fixture(autouse=True, scope="session")
def _live_server_one_request_at_a_time() -> Iterator[None]:
    """On SQLite the test database lives in memory, and the browser tests' live server shares
    its one connection (Django's ``connections_override``); its server answers each request on
    a thread of its own, so a page's requests made at once (a hosted form's iframe and the
    script embed beside it) used that connection together and one of them failed ("no such
    savepoint", CI of 7b08313). There the application answers one request at a time (the
    threads still accept and read requests at once: a browser's idle connection blocks
    nothing)."""
    import threading

    from django.core.servers.basehttp import ThreadedWSGIServer
    from django.db import connection
    from django.test.testcases import LiveServerThread

    class OneAtATime(ThreadedWSGIServer):
        lock = threading.Lock()

        def set_app(self, application: Any) -> None:
            def one_at_a_time(environ: Any, start_response: Any) -> Any:
                with self.lock:
                    return application(environ, start_response)

            super().set_app(one_at_a_time)

    threaded = getattr(LiveServerThread, "server_class")  # noqa: B009 - not in the type stubs
    if connection.vendor == "sqlite":
        setattr(LiveServerThread, "server_class", OneAtATime)  # noqa: B010
    yield
    setattr(LiveServerThread, "server_class", threaded)  # noqa: B010


@pytest.fixture(autouse=True)
def _default_language() -> Any:
    """A request in Vietnamese must not leave the next test speaking Vietnamese."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Argon2 is deliberately slow; tests that are not about hashing use a fast hasher.
    ``accounts/tests/test_passwords.py`` checks the real setting."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Any) -> Any:
    """Uploaded import files and export files go to the test's own folder, never to var/."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path / "media"


@pytest.fixture(autouse=True)
def _events_inline(settings: Any, tmp_path: Any) -> None:
    """The event API processes what it accepts before answering, so a test sees an event's
    effects when the request returns. ``tracking/tests/test_inbox.py`` tests the worker path.
    The file an earlier version kept its inbox in (SQLite) is the test's own."""
    settings.EVENTS_PROCESS_INLINE = True
    settings.EVENT_INBOX_PATH = tmp_path / "event-inbox.sqlite3"


@pytest.fixture(autouse=True)
def _workflow_triggers_forgotten() -> Iterator[None]:
    """Active workflows are cached per process for a few seconds (automation.triggers): a test's
    workflows, rolled back with it, must not start the next test's contacts."""
    from danhba.automation.triggers import cache_clear

    cache_clear()
    yield
    cache_clear()


@pytest.fixture(autouse=True)
def _segments_inline(settings: Any) -> None:
    """Segment membership is recomputed before a request returns (the worker path has its own
    tests in ``segments/tests/test_membership.py``)."""
    settings.SEGMENTS_REFRESH_INLINE = True


@contextmanager
def module_data(django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[None]:
    """For a module-scoped fixture that makes data once for all the module's tests (a demo
    load takes seconds): the data is written in a transaction rolled back after the module, each
    test's own transaction nests inside it (a savepoint), and it is made with the settings the
    function-scoped fixtures above give every test."""
    from django.db import transaction
    from django.test import override_settings
    from django.utils import translation

    from danhba.automation.triggers import cache_clear

    tmp = tmp_path_factory.mktemp("module")
    same_as_each_test = override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        MEDIA_ROOT=tmp / "media",
        EVENTS_PROCESS_INLINE=True,
        EVENT_INBOX_PATH=tmp / "event-inbox.sqlite3",
        SEGMENTS_REFRESH_INLINE=True,
    )
    with django_db_blocker.unblock(), same_as_each_test, translation.override("en"), transaction.atomic():
        yield
        transaction.set_rollback(True)
    cache_clear()


@pytest.fixture
def huey_immediate() -> Iterator[None]:
    """Jobs run as soon as they are queued (after the commit), in this process."""
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = True
    try:
        yield
    finally:
        HUEY.immediate = False


@pytest.fixture
def make_user(db: Any) -> Callable[..., Any]:
    from danhba.accounts.models import Role, User

    counter = {"n": 0}

    def make(role: str = "admin", email: str | None = None, **extra: Any) -> User:
        counter["n"] += 1
        email = email or f"{role}{counter['n']}@example.vn"
        return User.objects.create_user(email, PASSWORD, role=Role.objects.get(key=role), **extra)

    return make


@pytest.fixture
def users(make_user: Callable[..., Any]) -> dict[str, Any]:
    """One user per built-in role, keyed by role."""
    return {key: make_user(key, email=f"{key}@example.vn", full_name=key.title()) for key in ROLE_KEYS}


@pytest.fixture
def admin(users: dict[str, Any]) -> Any:
    return users["admin"]


def actor_for(user: Any, via: str = "ui") -> Actor:
    return Actor(user=user, via=via, ip="127.0.0.1")


@pytest.fixture
def make_contact(admin: Any) -> Callable[..., Any]:
    from danhba.contacts.services.contacts import contact_create

    def make(actor_user: Any = None, **data: Any) -> Any:
        data.setdefault("full_name", "Nguyễn Văn An")
        return contact_create(actor=actor_for(actor_user or admin), data=data)

    return make


@pytest.fixture
def client_for(client: Any) -> Callable[[Any], Any]:
    """A Django test client logged in as ``user``."""

    def login(user: Any) -> Any:
        client.force_login(user)
        return client

    return login


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A Chromium page for the browser tests (desktop size, English, downloads accepted); skips
    without Chromium (fails where services are required). ``core/tests/browser.py`` has the rest."""
    from danhba.core.tests.browser import chromium

    with chromium(monkeypatch, viewport={"width": 1400, "height": 1000}, accept_downloads=True) as context:
        yield context.new_page()
