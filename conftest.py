"""For every test of the repository, ``src/`` and ``bench/``: the test databases, set up once per
process (``danhba/core/tests/template_db.py``). The rest of the suite's fixtures:
``src/danhba/conftest.py``."""

from danhba.core.tests.template_db import django_db_setup

__all__ = ["django_db_setup"]
