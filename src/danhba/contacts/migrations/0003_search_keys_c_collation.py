"""Search keys are compared as byte strings: ``key >= q AND key < q || U+10FFFF`` is a prefix
range only under a binary collation. SQLite's default is binary; on PostgreSQL the database's
collation may be a linguistic one (en_US.UTF-8 ignores spaces and punctuation at the first
level), so the key columns get the "C" collation explicitly."""

from django.db import migrations

COLUMNS = [("contacts_searchkey", "key", 254), ("contacts_company", "name_key", 200)]


def to_c(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column, length in COLUMNS:
        schema_editor.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" TYPE varchar({length}) COLLATE "C"')


def to_default(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column, length in COLUMNS:
        schema_editor.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" TYPE varchar({length}) COLLATE "default"')


class Migration(migrations.Migration):
    dependencies = [("contacts", "0002_seed_stages_and_buyer_roles")]
    operations = [migrations.RunPython(to_c, to_default)]
