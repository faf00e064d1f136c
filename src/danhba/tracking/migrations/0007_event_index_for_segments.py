"""Segments count events per contact by name and period: an index on (name, timestamp, contact)
answers that from the index alone. It replaces (name, timestamp), which the retention purge
still uses as its prefix; the lone index on contact is dropped, (contact, timestamp) serves it."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0009_exportjob"),
        ("tracking", "0006_event_inbox"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="event",
            index=models.Index(fields=["name", "timestamp", "contact"], name="event_name_time_contact"),
        ),
        migrations.RemoveIndex(
            model_name="event",
            name="event_name_time",
        ),
        migrations.AlterField(
            model_name="event",
            name="contact",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="contacts.contact",
            ),
        ),
    ]
