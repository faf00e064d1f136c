"""Drop the timeline's own index on ``contact_id``: ``timeline_contact_time`` (contact_id,
occurred_at, id) starts with the same column and serves every lookup by contact, the cascade of a
deleted contact's entries included. One index less to keep on every entry written.

The index is dropped by name (Django names it the same on SQLite and PostgreSQL): ``AlterField``
would rebuild the whole table on SQLite to change ``db_index``.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "contacts_timelineentry_contact_id_514af0c3"


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0014_purchase_metrics"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "contacts_timelineentry" ("contact_id")',
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="timelineentry",
                    name="contact",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="timeline",
                        to="contacts.contact",
                    ),
                ),
            ],
        ),
    ]
