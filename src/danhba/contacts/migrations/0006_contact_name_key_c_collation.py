"""The contact list merges per-owner pages in Python (see ``selectors.contact_page``), so the
database must order ``name_key`` the way Python compares strings: by code point. SQLite's
default collation does; on PostgreSQL the column gets the "C" collation explicitly."""

from django.db import migrations


def to_c(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute('ALTER TABLE contacts_contact ALTER COLUMN "name_key" TYPE varchar(200) COLLATE "C"')


def to_default(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            'ALTER TABLE contacts_contact ALTER COLUMN "name_key" TYPE varchar(200) COLLATE "default"'
        )


class Migration(migrations.Migration):
    dependencies = [("contacts", "0005_tag_name_key_unique")]
    operations = [migrations.RunPython(to_c, to_default)]
