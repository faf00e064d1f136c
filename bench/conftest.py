"""The benchmarks' tests use the suite's test database, a copy of one migrated once
(``danhba/conftest.py``; this folder is outside ``src/danhba``, whose conftest applies there)."""

from danhba.conftest import django_db_setup

__all__ = ["django_db_setup"]
