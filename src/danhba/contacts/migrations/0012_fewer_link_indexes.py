"""The link tables' single-column foreign-key indexes go: each is the leading column of a
unique constraint or of a composite index the table keeps, which serves the same look-ups. An
import wrote five B-trees per tag link and per company link, four per phone (decision 0015).

Only the indexes are dropped (the state says db_index=False): Django's AlterField would rebuild
each table on SQLite, twice for a table with two such keys."""

import django.db.models.deletion
from django.db import migrations, models

# (table, column, the index Django named for it)
INDEXES = [
    ("contacts_contactcompany", "company_id", "contacts_contactcompany_company_id_22401f57"),
    ("contacts_contactcompany", "contact_id", "contacts_contactcompany_contact_id_4f7a8f2c"),
    ("contacts_contactphone", "contact_id", "contacts_contactphone_contact_id_4e09e055"),
    ("contacts_contacttag", "contact_id", "contacts_contacttag_contact_id_7419fc13"),
    ("contacts_contacttag", "tag_id", "contacts_contacttag_tag_id_5d4815b8"),
]


def unindexed(to: str, **options: object) -> models.ForeignKey:
    return models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, to=to, **options)


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0011_search_email_marker"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"', f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ("{column}")'
                )
                for table, column, name in INDEXES
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="contactcompany",
                    name="company",
                    field=unindexed("contacts.company", related_name="contact_links"),
                ),
                migrations.AlterField(
                    model_name="contactcompany",
                    name="contact",
                    field=unindexed("contacts.contact", related_name="company_links"),
                ),
                migrations.AlterField(
                    model_name="contactphone",
                    name="contact",
                    field=unindexed("contacts.contact", related_name="phones"),
                ),
                migrations.AlterField(model_name="contacttag", name="contact", field=unindexed("contacts.contact")),
                migrations.AlterField(model_name="contacttag", name="tag", field=unindexed("contacts.tag")),
            ],
        ),
    ]
