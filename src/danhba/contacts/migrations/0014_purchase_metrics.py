"""The purchase metrics on the contact (decision 0025); ``orders.0004`` fills them.

Django adds a NOT NULL column on SQLite by rebuilding the whole table, once per column: at a
million contacts, five copies of the largest table. ``ALTER TABLE … ADD COLUMN … NOT NULL
DEFAULT 0`` is what SQLite can do in place, so the columns are added that way there (the
DEFAULT stays in SQLite's schema: the model always gives a value, and a later rebuild of the
table drops it). PostgreSQL adds a column with a constant default without rewriting the table.
"""

from django.db import migrations, models


def _fields() -> list[models.Field]:  # type: ignore[type-arg]
    fields: list[models.Field] = [  # type: ignore[type-arg]
        models.PositiveIntegerField(default=0, editable=False, verbose_name="orders"),
        models.DecimalField(decimal_places=2, default=0, editable=False, max_digits=18, verbose_name="total spent"),
        models.DecimalField(
            decimal_places=2, default=0, editable=False, max_digits=18, verbose_name="average order value"
        ),
        models.DateTimeField(blank=True, editable=False, null=True, verbose_name="first order"),
        models.DateTimeField(blank=True, editable=False, null=True, verbose_name="last order"),
    ]
    names = ("order_count", "total_spent", "average_order_value", "first_order_at", "last_order_at")
    for name, field in zip(names, fields, strict=True):
        field.set_attributes_from_name(name)
    return fields


def add_columns(apps, schema_editor):  # type: ignore[no-untyped-def]
    contact = apps.get_model("contacts", "Contact")
    quote = schema_editor.quote_name
    for field in _fields():
        if schema_editor.connection.vendor != "sqlite" or field.null:
            schema_editor.add_field(contact, field)
            continue
        definition, _params = schema_editor.column_sql(contact, field)
        schema_editor.execute(
            f"ALTER TABLE {quote(contact._meta.db_table)} ADD COLUMN {quote(field.column)} {definition} DEFAULT 0"
        )


def drop_columns(apps, schema_editor):  # type: ignore[no-untyped-def]
    contact = apps.get_model("contacts", "Contact")
    for field in _fields():
        schema_editor.remove_field(contact, field)


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0013_channel_sources"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(model_name="contact", name=field.name, field=field) for field in _fields()
            ],
            database_operations=[migrations.RunPython(add_columns, drop_columns)],
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["province", "total_spent", "id"], name="contact_province_spent"),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["order_count", "id"], name="contact_orders"),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["average_order_value", "id"], name="contact_aov"),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["first_order_at", "id"], name="contact_first_order"),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["last_order_at", "id"], name="contact_last_order"),
        ),
    ]
