"""Database upkeep that no feature owns."""

from __future__ import annotations

from django.db import connection


def database_statistics_refresh() -> bool:
    """Give SQLite's query planner statistics (``ANALYZE``, sampled so it takes seconds even on
    tens of millions of events). Without them SQLite guesses, and with several indexes on the
    events table a guess can be badly wrong: counting one contact's events of one name through
    the (name, timestamp, contact) index walks every event of that name instead of the
    contact's few.

    PostgreSQL samples its tables for ``ANALYZE`` too (about 30,000 rows each). Its autovacuum
    usually keeps the statistics current, but a server may run with autovacuum off, and then the
    contact search (decision 0005) chooses between the primary key and the GIN index blind: a
    rare word read the whole ``contacts_searchentry`` table. So PostgreSQL is analysed as well.
    Returns whether statistics were refreshed."""
    if connection.vendor not in {"sqlite", "postgresql"}:
        return False
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA analysis_limit = 2000")
        cursor.execute("ANALYZE")
    return True
