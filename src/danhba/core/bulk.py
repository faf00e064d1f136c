"""Raw bulk writes: many rows into one table in one statement, with ids allocated up front.

The importer, the event worker and the bulk contact writer insert thousands of rows per
transaction; the ORM's ``bulk_create`` spends more time preparing 40 columns per object than
the database takes to store them. :class:`Table` adapts values the way the ORM would (datetimes,
dates, JSON) and inserts plain tuples; :func:`allocate_ids` takes primary keys from the table's
sequence so related rows can be written in the same batch without reading ids back.

How the rows travel (docs/decisions/0006-set-based-import.md):

- PostgreSQL: ``COPY … FROM STDIN`` (psycopg 3 ``cursor.copy``), one stream per insert;
- SQLite: ``executemany``; a table made with ``one_statement=True`` gets its rows as one JSON
  parameter, ``INSERT … SELECT … FROM json_each(?)``: for a table with triggers (the search
  entries feed their FTS5 index) one statement costs a fraction of one per row (measured on
  94,000 search entries: 196 → 29 µs per row), and JSON columns (the events' properties,
  context and traits) are serialised with the whole batch in one ``json.dumps`` (decision
  0007). Wide tables stay on ``executemany``: reading 45 columns back out of JSON costs more
  than binding them (30 → 66 µs per contact). What JSON cannot hold goes row by row.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, models

T = TypeVar("T")

CHUNK = 900  # values per IN (...) list: well under SQLite's variable limit
JSON_ROWS = 5000  # rows per statement of a one_statement Table on SQLite
INLINE_MIN_ROWS = 8  # SQLite: from this many rows, a value every row shares is a literal of the statement


def chunks(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``, in order (for ``IN`` lists and batched writes)."""
    values = items if isinstance(items, list) else list(items)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def select_in(
    model: type[models.Model],
    columns: Sequence[str],
    key: str,
    values: Iterable[Any],
    order_by: str = "",
    where: dict[str, Any] | None = None,
) -> Iterator[tuple[Any, ...]]:
    """``SELECT columns FROM model's table WHERE key IN (values)`` (and each column of ``where``
    equal to its value), a chunk of values at a time, as plain tuples (column names, not
    attnames; text and integer columns come as they are, datetime and JSON columns are read back
    with :func:`read_moment` and :func:`read_json`): a batch looks up
    thousands of keys, and building an ORM ``__in`` lookup costs more than the query."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    selected = ", ".join(f"{table}.{quote(c)}" for c in columns)
    order = f" ORDER BY {table}.{quote(order_by)}" if order_by else ""
    fixed = "".join(f" AND {table}.{quote(c)} = %s" for c in where or {})
    fixed_params = list((where or {}).values())
    if connection.vendor == "postgresql":
        # One array of the keys, joined: PostgreSQL plans ``IN`` of thousands of values as a scan
        # of the whole table (measured at 850,000 emails: 64 ms a lookup of 5,000 against 4 ms
        # through the index, statistics or not); a join with the array's rows takes the index.
        column = next(f for f in model._meta.concrete_fields if f.column == key)
        keys = f"unnest(%s::{column.db_type(connection)}[]) AS danhba_wanted(v)"
        sql = (
            f"SELECT {selected} FROM {table} JOIN {keys} ON {table}.{quote(key)} = danhba_wanted.v"  # noqa: S608
            f" WHERE TRUE{fixed}{order}"
        )
        with connection.cursor() as cursor:
            for chunk in chunks(list(dict.fromkeys(values))):  # one row per stored match, as IN gives
                cursor.execute(sql, [chunk, *fixed_params])
                yield from cursor.fetchall()
        return
    with connection.cursor() as cursor:
        for chunk in chunks(values):
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"SELECT {selected} FROM {table} WHERE {quote(key)} IN ({marks}){fixed}{order}",  # noqa: S608
                [*chunk, *fixed_params],
            )
            yield from cursor.fetchall()


class Table:
    """``INSERT`` of many rows into one model's table through the connection's cursor, values
    adapted the way the ORM would (datetimes, dates, JSON): ``COPY`` on PostgreSQL,
    ``executemany`` or (``one_statement``) one ``INSERT … SELECT`` over ``json_each`` on SQLite."""

    def __init__(self, model: type[models.Model], attnames: Sequence[str], *, one_statement: bool = False) -> None:
        self.model = model
        by_attname = {f.attname: f for f in model._meta.concrete_fields}
        fields = [by_attname[a] for a in attnames]
        self.adapters: list[Callable[[Any], Any] | None] = [_adapter(f) for f in fields]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in fields)
        marks = ", ".join(["%s"] * len(fields))
        table = quote(model._meta.db_table)
        self.sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608
        self.copy_sql = f"COPY {table} ({columns}) FROM STDIN"
        self.adapted = [i for i, a in enumerate(self.adapters) if a is not None]
        self.json_columns = {i for i, f in enumerate(fields) if isinstance(f, models.JSONField)}
        self.inlined: dict[tuple[str | None, ...], str] = {}  # SQLite: statements by their literals
        self.json_sql = ""
        if one_statement and connection.vendor == "sqlite" and sqlite3.sqlite_version_info >= (3, 38):
            # A JSON column's value as JSON text (``->``, what json_adapter stores), any other as
            # its SQL value (``->>``: text, number, NULL; true is 1).
            picked = ", ".join(
                f"value -> '$[{i}]'" if isinstance(f, models.JSONField) else f"value ->> '$[{i}]'"
                for i, f in enumerate(fields)
            )
            self.json_sql = f"INSERT INTO {table} ({columns}) SELECT {picked} FROM json_each(%s)"  # noqa: S608
            # JSON columns stay Python values in the array (serialised with the rest in one
            # json.dumps, not one call per value); the other adapters make text of times.
            self.json_adapted = [i for i in self.adapted if not isinstance(fields[i], models.JSONField)]

    def insert(self, rows: Iterable[Sequence[Any]]) -> None:
        if self.json_sql:
            rows = rows if isinstance(rows, list) else list(rows)
            if not rows or self._insert_json(rows):
                return
        if connection.vendor == "sqlite":
            rows = rows if isinstance(rows, list) else list(rows)
            if len(rows) >= INLINE_MIN_ROWS:
                self._insert_inlined(rows)
                return
        self._insert_rows(rows)

    def _insert_rows(self, rows: Iterable[Sequence[Any]]) -> None:
        """Each row's values adapted, then ``COPY`` (PostgreSQL) or ``executemany`` (SQLite)."""
        if self.adapted:
            adapters = self.adapters
            idx = self.adapted
            out: list[Any] = []
            for row in rows:
                values = list(row)
                for i in idx:
                    values[i] = adapters[i](values[i])  # type: ignore[misc]
                out.append(values)
        else:
            out = rows if isinstance(rows, list) else list(rows)
        if not out:
            return
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # Django's wrapper does not see a COPY: its errors are turned into Django's here.
                with connection.wrap_database_errors, cursor.cursor.copy(self.copy_sql) as copy:
                    for values in out:
                        copy.write_row(values)
            else:
                cursor.executemany(self.sql, out)

    def _insert_inlined(self, rows: list[Sequence[Any]]) -> None:
        """SQLite, many rows: the columns that hold one value in every row (most of a new
        contact's 45: defaults, the batch's time) written into the statement as literals, and
        only the others bound per row. Binding a value costs about as much as SQLite's own work
        for it (measured, 45 columns: 8.7 µs a row all bound, 2.8 with 35 of them literals)."""
        columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
        adapters = self.adapters
        count = len(rows)
        for i in self.adapted:
            column = columns[i]
            adapt: Callable[[Any], Any] = adapters[i]  # type: ignore[assignment]
            first = column[0]
            # A column of one value (a batch's time, no birthday, no custom values: most of a
            # new contact's adapted columns) adapted once. Equal times and dates adapt alike;
            # JSON only for {} (1 == True, but they are different JSON).
            if column.count(first) == count and (i not in self.json_columns or first == {}):
                columns[i] = [adapt(first)] * count
            else:
                columns[i] = list(map(adapt, column))
        literals: list[str | None] = [_constant(column, count) for column in columns]
        shape = tuple(literals)
        sql = self.inlined.get(shape)
        if sql is None:
            if len(self.inlined) > 64:
                self.inlined.clear()
            marks = ", ".join("%s" if literal is None else literal for literal in literals)
            sql = self.inlined[shape] = f"{self.sql.partition(' VALUES ')[0]} VALUES ({marks})"
        bound = [column for column, literal in zip(columns, literals, strict=True) if literal is None]
        out: list[Any] = list(zip(*bound, strict=True)) if bound else [()] * count
        with connection.cursor() as cursor:
            cursor.executemany(sql, out)

    def _insert_json(self, rows: list[Sequence[Any]]) -> bool:
        """The rows as JSON arrays, ``JSON_ROWS`` per statement; False (nothing written) when
        JSON cannot hold a value (a Decimal, ``NaN``) or a text holds a NUL (``->>`` would end
        it there): the caller then inserts them row by row."""
        adapters = self.adapters
        idx = self.json_adapted
        out: list[Any] = []
        for row in rows:
            values = list(row)
            for i in idx:
                values[i] = adapters[i](values[i])  # type: ignore[misc]
            out.append(values)
        try:
            docs = [
                json.dumps(chunk, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
                for chunk in chunks(out, JSON_ROWS)
            ]
        except (TypeError, ValueError):
            return False
        if any("\\u0000" in doc for doc in docs):
            return False
        with connection.cursor() as cursor:
            for doc in docs:
                cursor.execute(self.json_sql, [doc])
        return True


def _adapter(field: models.Field[Any, Any]) -> Callable[[Any], Any] | None:
    """How a value of this field is written the way the ORM would write it; None: as it is."""
    if isinstance(field, models.DateTimeField):
        return _Memo(datetime_adapter())
    if isinstance(field, models.DateField):
        return connection.ops.adapt_datefield_value
    if isinstance(field, models.JSONField):
        return json_adapter(field)
    if isinstance(field, models.GenericIPAddressField):
        return lambda v: v or None
    return None


def _constant(column: Sequence[Any], count: int) -> str | None:
    """The SQL literal of the value every item of ``column`` is (None when they differ, or the
    value is not one a literal states exactly): NULL, an integer, a short text without NUL.
    ``%`` is doubled: Django's SQLite cursor reads ``%s`` as a parameter and ``%%`` as ``%``."""
    first = column[0]
    if first is None:
        return "NULL" if column.count(None) == count else None
    kind = type(first)
    if kind is str:
        if len(first) > 200 or "\x00" in first or column.count(first) != count:
            return None
        text: str = first
        return "'" + text.replace("'", "''").replace("%", "%%") + "'"
    if kind is bool or kind is int:  # 1 == 1.0 == True: the same type in every row, too
        if column.count(first) != count or set(map(type, column)) != {kind}:
            return None
        return str(int(first))
    return None


def datetime_adapter() -> Callable[[Any], Any]:
    """How the connection stores a datetime. On SQLite with times kept in UTC, a datetime already
    in UTC (``timezone.now()``, the event API's parsed times) is its text without the zone, what
    Django's adapter makes of it by way of ``make_naive``, at a fifth of the cost: the event worker
    stores four datetimes per event."""
    adapt = connection.ops.adapt_datetimefield_value
    if connection.vendor != "sqlite" or not settings.USE_TZ or connection.timezone_name != "UTC":
        return adapt

    def utc_text(value: Any) -> Any:
        if value is not None and value.tzinfo is UTC:
            return str(value.replace(tzinfo=None))
        return adapt(value)

    return utc_text


def read_moment(value: Any) -> dt.datetime | None:
    """A datetime column read back by a raw statement, aware: SQLite gives a naive datetime (a
    column declared datetime) or its text (an expression such as ``MAX``), both in UTC as Django
    stores them; PostgreSQL an aware datetime."""
    if value is None:
        return None
    when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def read_json(value: Any) -> Any:
    """A JSON column read back by a raw statement (its text, or the value a driver decoded)."""
    return json.loads(value) if isinstance(value, str) else value


class _Memo:
    """An adapter that remembers its last answer: a batch stamps thousands of rows with one
    ``now``, which then is converted once, not once per row."""

    def __init__(self, adapt: Callable[[Any], Any]) -> None:
        self.adapt = adapt
        self.last: Any = object()
        self.result: Any = None

    def __call__(self, value: Any) -> Any:
        if value is not self.last:
            self.last, self.result = value, self.adapt(value)
        return self.result


def json_adapter(f: models.JSONField) -> Callable[[Any], Any]:
    """How the connection stores a value of the JSON field ``f`` (for raw statements)."""
    encoder = f.encoder
    adapt = connection.ops.adapt_json_value
    if connection.vendor == "sqlite":
        return lambda value: "{}" if value == {} else adapt(value, encoder)  # most rows: nothing
    return lambda value: adapt(value, encoder)


def allocate_ids(model: type[models.Model], count: int) -> list[int]:
    """Primary keys for ``count`` new rows, taken from the table's sequence so nothing else can
    get them. SQLite: the caller holds the write lock (transactions start IMMEDIATE), and ids are
    never reused because the tables are AUTOINCREMENT (sqlite_sequence remembers the highest)."""
    if count == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sequence = connection.introspection.get_sequences(cursor, table)[0]["name"]
            cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [sequence, count])
            return [r[0] for r in cursor.fetchall()]
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        found = cursor.fetchone()
        cursor.execute(f"SELECT MAX(id) FROM {connection.ops.quote_name(table)}")  # noqa: S608
        top = max(found[0] if found else 0, cursor.fetchone()[0] or 0)
        if found:
            cursor.execute("UPDATE sqlite_sequence SET seq = %s WHERE name = %s", [top + count, table])
        else:
            cursor.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [table, top + count])
    return list(range(top + 1, top + count + 1))


# --- indexes set aside during a big load ------------------------------------------------------


def indexes_present(model: type[models.Model]) -> set[str]:
    """The names of the indexes the model's table has now."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, model._meta.db_table)
    return {name for name, info in found.items() if info.get("index")}


def indexes_drop(model: type[models.Model], names: Sequence[str]) -> list[str]:
    """Drop these indexes of ``model`` (declared in its ``Meta.indexes``) where they exist;
    returns the names dropped. Only for indexes nothing needs for correctness (no unique
    ones): :func:`indexes_ensure` puts them back, from the model, whenever it runs."""
    declared = {index.name for index in model._meta.indexes}
    unknown = set(names) - declared
    if unknown:
        raise ValueError(f"not declared in {model.__name__}.Meta.indexes: {sorted(unknown)}")
    present = indexes_present(model)
    dropped = [name for name in names if name in present]
    with connection.cursor() as cursor:
        for name in dropped:
            cursor.execute(f"DROP INDEX IF EXISTS {connection.ops.quote_name(name)}")
    return dropped


def indexes_ensure(model: type[models.Model]) -> list[str]:
    """Create every index of ``model``'s ``Meta.indexes`` that its table lacks (after
    :func:`indexes_drop`, or a process killed between the two); returns the names created.
    One ``CREATE INDEX`` sorts the whole table once: far cheaper than keeping the index through
    a big load (measured: decision 0009)."""
    present = indexes_present(model)
    missing = [index for index in model._meta.indexes if index.name not in present]
    if not missing:
        return []
    editor = connection.schema_editor()  # only to render the statements; not entered
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        # Inside a transaction that wrote rows (a test's), PostgreSQL refuses CREATE INDEX while
        # deferred foreign-key checks are pending: run them now.
        connection.check_constraints()
    with connection.cursor() as cursor, _sorting(cursor):
        for index in missing:
            cursor.execute(str(index.create_sql(model, editor)))
    return [index.name for index in missing]


# Memory of a CREATE INDEX's sort on SQLite, in KiB: see _sorting.
SORT_RUN_KIB = 2048


@contextmanager
def _sorting(cursor: Any) -> Iterator[None]:
    """How SQLite sorts a ``CREATE INDEX``'s keys: it keeps as many in memory as the page cache
    may hold (``cache_size``) before it sorts them and writes the run to a temporary file, and
    merges the runs at the end; with ``PRAGMA threads`` (0 by default) helper threads sort and
    merge runs while this one reads the table. The import's 384 MB cache held a whole table's keys
    in one run, sorted on this thread alone, the helpers idle, and a run of keys in random order
    (a name) larger than the CPU's caches sorts slowly: measured on 944,152 contacts, the four
    indexes by name 4.8-5.1 s in one run, 3.4 s in runs of 4 MB, 2.8 s with a helper thread
    (decision 0027, session 4). A rebuild after an import runs while nothing else of the import
    does, so it may take the other cores. Both settings put back as they were after (the cache
    keeps its size, not the pages it held). Runs go to memory, not files, on a connection with
    ``temp_store=MEMORY`` (the settings'; an import sets FILE): there nothing changes."""
    if connection.vendor != "sqlite":
        yield
        return
    cursor.execute("PRAGMA threads")
    threads = int(cursor.fetchone()[0])
    cursor.execute("PRAGMA cache_size")
    cache = int(cursor.fetchone()[0])
    cursor.execute(f"PRAGMA threads = {os.cpu_count() or 1}")
    cursor.execute(f"PRAGMA cache_size = -{SORT_RUN_KIB}")
    try:
        yield
    finally:
        cursor.execute(f"PRAGMA cache_size = {cache}")
        cursor.execute(f"PRAGMA threads = {threads}")
