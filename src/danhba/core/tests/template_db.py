"""A migrated database made once and copied, for the test suite (decision 0028).

Applying danhba's migrations to an empty database costs 25-50 CPU seconds, nearly all of it
Django rendering the migration states, and the suite needs a fresh migrated database in every
xdist worker of every run, and in each test that starts danhba in a subprocess. Here the first
one to need it migrates for real and keeps a copy (a SQLite file, or a PostgreSQL template
database); every later one, in this run or the next, copies that. The copy is keyed by a hash
of the migration files and of the danhba modules they import, Django's version and the database
vendor: a changed migration makes a new copy by migrating again.

``DANHBA_TEST_MIGRATE=1`` turns the copies off: every database is migrated.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import django
import pytest

import danhba

_SOURCE = Path(danhba.__file__).parent
_IMPORTED = re.compile(r"^\s*(?:from|import) (danhba(?:\.\w+)+)", re.MULTILINE)
# Copies kept per vendor (other checkouts of other migrations share the folder and the server).
KEEP = 4


def enabled() -> bool:
    return os.getenv("DANHBA_TEST_MIGRATE", "") not in ("1", "true", "yes")


def folder() -> Path:
    path = Path(tempfile.gettempdir()) / "danhba-test-databases"
    path.mkdir(exist_ok=True)
    return path


def key(vendor: str) -> str:
    """What a migrated database depends on: the migrations, what they import, danhba's migrate
    command (it makes a site's event inbox file), Django."""
    files = [*sorted(_SOURCE.glob("*/migrations/*.py")), _SOURCE / "core/management/commands/migrate.py"]
    digest = hashlib.sha256(f"{django.__version__} {vendor}".encode())
    imported: set[Path] = set()
    for path in files:
        text = path.read_bytes()
        digest.update(path.relative_to(_SOURCE).as_posix().encode() + b"\0" + text)
        for module in _IMPORTED.findall(text.decode()):
            parts = module.split(".")[1:]
            for candidate in (_SOURCE.joinpath(*parts).with_suffix(".py"), _SOURCE.joinpath(*parts, "__init__.py")):
                if candidate.exists():
                    imported.add(candidate)
    for path in sorted(imported):
        digest.update(path.relative_to(_SOURCE).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@contextmanager
def _locked(name: str) -> Iterator[None]:
    """One process at a time makes or copies a given database (xdist workers start together)."""
    with (folder() / f"{name}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _prune(pattern: str, keep: Path) -> None:
    """Older copies (files, or folders of a site's files) go, the newest ``KEEP`` stay; a file in
    use elsewhere is only unlinked (its readers keep their open file)."""
    copies = (p for p in folder().glob(pattern) if p != keep and p.suffix not in (".lock", ".part"))
    older = sorted(copies, key=lambda p: p.stat().st_mtime, reverse=True)
    for path in older[KEEP - 1 :]:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


# --- SQLite -----------------------------------------------------------------------------------


def sqlite_file() -> Path:
    return folder() / f"sqlite-{key('sqlite')}.sqlite3"


def sqlite_restore(target: sqlite3.Connection, migrate: Callable[[], None]) -> None:
    """Fill the empty database ``target`` with the migrated copy, made first by ``migrate()``
    (which migrates ``target``) when there is none."""
    path = sqlite_file()
    with _locked(path.stem):
        if path.exists():
            source = sqlite3.connect(path)
            try:
                source.backup(target)
            finally:
                source.close()
            return
        migrate()
        _backup_into(target, path)
        _prune("sqlite-*.sqlite3", keep=path)


def sqlite_site(files: dict[str, Path], migrate: Callable[[], None]) -> None:
    """A new site's database files (``files`` by role: ``main``, and ``inbox``, the event
    inbox's), copies of those ``danhba migrate`` made for the first site: ``migrate()`` makes
    them, and they are kept, when there are none. (The suite's own databases cannot serve: in
    them the inbox is not a file of its own.)"""
    kept = folder() / f"site-sqlite-{key('sqlite')}"
    with _locked(kept.name):
        if kept.is_dir():
            for role, path in files.items():
                _sqlite_copy(kept / f"{role}.sqlite3", path)
            return
        migrate()
        part = kept.with_name(kept.name + ".part")
        shutil.rmtree(part, ignore_errors=True)
        part.mkdir()
        for role, path in files.items():
            _sqlite_copy(path, part / f"{role}.sqlite3")
        part.rename(kept)
        _prune("site-sqlite-*", keep=kept)


def _sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy, written beside ``target`` and renamed into place (a site's file may
    be in WAL mode: a plain file copy could miss what its log holds)."""
    reader = sqlite3.connect(source)
    try:
        _backup_into(reader, target)
    finally:
        reader.close()


def _backup_into(reader: sqlite3.Connection, target: Path) -> None:
    """``reader``'s database written to a file beside ``target``, then renamed into place."""
    part = target.with_name(target.name + ".part")
    part.unlink(missing_ok=True)
    writer = sqlite3.connect(part)
    try:
        reader.backup(writer)
    finally:
        writer.close()
    part.rename(target)


# --- PostgreSQL -------------------------------------------------------------------------------


TEMPLATE_PREFIX = "danhba_test_template_"


def postgres_name() -> str:
    return TEMPLATE_PREFIX + key("postgresql")


def postgres_restore(connection: Any, migrate: Callable[[], None]) -> None:
    """The Django ``connection``'s test database, just created empty, becomes a copy of the
    migrated template database (made first from this one by ``migrate()`` when there is none)."""
    from psycopg import sql

    create = sql.SQL("CREATE DATABASE {} TEMPLATE {}")
    name = connection.settings_dict["NAME"]
    template = postgres_name()
    with _locked(template):
        connection.close()
        with connection._nodb_cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template])
            if cursor.fetchone():
                cursor.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))
                cursor.execute(create.format(sql.Identifier(name), sql.Identifier(template)))
                return
        migrate()
        connection.close()
        with connection._nodb_cursor() as cursor:
            cursor.execute(create.format(sql.Identifier(template), sql.Identifier(name)))
            cursor.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname <> %s ORDER BY oid DESC",
                [TEMPLATE_PREFIX + "%", template],
            )
            for (older,) in cursor.fetchall()[KEEP - 1 :]:
                cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(older)))


def postgres_site(conn: Any, name: str) -> None:
    """A new database ``name`` for a site (``conn``: psycopg, autocommit, to the server's
    maintenance database): a copy of the suite's migrated template database when there is one
    (the site's ``danhba migrate`` then has nothing to apply), else empty."""
    from psycopg import sql

    template = postgres_name()
    with _locked(template):
        found = enabled() and conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template]).fetchone()
        copy = sql.SQL(" TEMPLATE {}").format(sql.Identifier(template)) if found else sql.SQL("")
        conn.execute(sql.SQL("CREATE DATABASE {}{}").format(sql.Identifier(name), copy))


# --- the test database ------------------------------------------------------------------------


@contextmanager
def migrations_copied() -> Iterator[None]:
    """While Django's ``setup_databases`` runs: its ``migrate`` of each test database copies the
    migrated database instead (made by the real ``migrate`` the first time)."""
    from django.core import management
    from django.db import connections

    real = management.call_command

    def call_command(name: Any, *args: Any, **options: Any) -> Any:
        if name != "migrate" or not enabled():
            return real(name, *args, **options)
        connection = connections[options.get("database", "default")]

        def migrate() -> None:
            real(name, *args, **options)

        if connection.vendor == "sqlite" and connection.is_in_memory_db():
            connection.ensure_connection()
            sqlite_restore(connection.connection, migrate)
        elif connection.vendor == "postgresql":
            postgres_restore(connection, migrate)
        else:
            migrate()
        return None

    management.call_command = call_command
    try:
        yield
    finally:
        management.call_command = real


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker: Any,
    django_db_keepdb: bool,
    django_db_createdb: bool,
    django_db_modify_db_settings: None,
) -> Iterator[None]:
    """pytest-django's fixture of the same name, with each test database a copy of one migrated
    once (``migrations_copied``). The repository's ``conftest.py`` takes it: once for ``src/``
    and ``bench/`` both (two definitions would set the databases up twice in one process)."""
    from django.test.utils import setup_databases, teardown_databases
    from pytest_django.fixtures import _get_databases_for_setup

    aliases, serialized_aliases = _get_databases_for_setup(request.session.items)
    keepdb = django_db_keepdb and not django_db_createdb
    verbosity = request.config.option.verbose
    with django_db_blocker.unblock(), migrations_copied():
        config = setup_databases(
            verbosity,
            interactive=False,
            keepdb=keepdb,
            aliases=aliases,  # type: ignore[arg-type]  # a set of names, as pytest-django passes (the stubs say Mapping)
            serialized_aliases=serialized_aliases,
        )
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock():
            teardown_databases(config, verbosity=verbosity)
