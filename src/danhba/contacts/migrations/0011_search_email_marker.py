"""SQLite: the FTS5 index stores each email as "@" and the address, so that a name's prefix
("nguyen*") no longer expands to every address that starts with it: FTS5 expands a prefix over
all the index's terms before it filters by column, and every address is a term of its own. The
entries' texts stay as they are; the triggers add the marker (PostgreSQL's ``doc`` already
has it). The index is rebuilt from the entries."""

from django.db import migrations

# ruff: noqa: S608  (constant SQL assembled from this module's own strings, no input)

EMAIL = "CASE WHEN {row}.email = '' THEN '' ELSE '@' || replace({row}.email, ' ', ' @') END"
COLUMNS = "name, company, email, phone"


def _triggers(email_new: str, email_old: str) -> list[str]:
    insert = (
        f"INSERT INTO contacts_searchentry_fts(rowid, {COLUMNS}) "
        f"VALUES (new.contact_id, new.name, new.company, {email_new}, new.phone);"
    )
    delete = (
        f"INSERT INTO contacts_searchentry_fts(contacts_searchentry_fts, rowid, {COLUMNS}) "
        f"VALUES ('delete', old.contact_id, old.name, old.company, {email_old}, old.phone);"
    )
    return [
        "DROP TRIGGER contacts_searchentry_ai",
        "DROP TRIGGER contacts_searchentry_ad",
        "DROP TRIGGER contacts_searchentry_au",
        f"CREATE TRIGGER contacts_searchentry_ai AFTER INSERT ON contacts_searchentry BEGIN {insert} END",
        f"CREATE TRIGGER contacts_searchentry_ad AFTER DELETE ON contacts_searchentry BEGIN {delete} END",
        f"CREATE TRIGGER contacts_searchentry_au AFTER UPDATE ON contacts_searchentry BEGIN {delete} {insert} END",
        "INSERT INTO contacts_searchentry_fts(contacts_searchentry_fts) VALUES ('delete-all')",
        f"INSERT INTO contacts_searchentry_fts(rowid, {COLUMNS}) "
        f"SELECT contact_id, name, company, {email_new.replace('new.', 'contacts_searchentry.')}, phone "
        "FROM contacts_searchentry",
    ]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for sql in _triggers(EMAIL.format(row="new"), EMAIL.format(row="old")):
            schema_editor.execute(sql)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for sql in _triggers("new.email", "old.email"):
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("contacts", "0010_search_entry")]
    operations = [migrations.RunPython(forward, backward)]
