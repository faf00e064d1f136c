"""The search index's database parts survive the migrations: a migration that makes SQLite
rebuild ``contacts_searchentry`` (most ``AlterField``s do: new table, copy, drop, rename) drops
the triggers that keep the FTS5 index current, and search then silently misses every contact
written after it. This fails first."""

import pytest
from django.db import connection

from danhba.contacts.search import search_matches, search_prefix

pytestmark = pytest.mark.django_db


def test_the_index_keeps_up_with_writes_after_all_migrations(make_contact):
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'contacts_searchentry'"
            )
            triggers = {name for (name,) in cursor.fetchall()}
        assert triggers == {"contacts_searchentry_ai", "contacts_searchentry_ad", "contacts_searchentry_au"}
    contact = make_contact(full_name="Phạm Quỳnh Hương", emails=[{"email": "huong.pham@example.vn"}])

    def found(text):
        query = search_prefix(text)
        assert query is not None
        return set(search_matches(query).values_list("contact_id", flat=True))

    assert found("quynh huong") == {contact.pk}
    assert found("huong.pham@") == {contact.pk}
    contact.delete()
    assert found("quynh huong") == set()
