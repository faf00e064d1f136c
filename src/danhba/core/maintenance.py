"""Database upkeep that no feature owns."""

from __future__ import annotations

from django.db import connection


def database_statistics_refresh() -> bool:
    """Give SQLite's query planner statistics (``ANALYZE``, sampled so it takes seconds even on
    tens of millions of events). Without them SQLite guesses, and with several indexes on the
    events table a guess can be badly wrong: counting one contact's events of one name through
    the (name, timestamp, contact) index walks every event of that name instead of the
    contact's few. PostgreSQL's autovacuum keeps its own statistics: nothing to do there.
    Returns whether statistics were refreshed."""
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA analysis_limit = 2000")
        cursor.execute("ANALYZE")
    return True
