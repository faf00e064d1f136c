"""Copy each contact's purchase metrics onto the contact (``contacts.0014``, decision 0025).
From here on ``orders.stats`` writes both in the order's own transaction."""

from django.db import migrations

COLUMNS = ("order_count", "total_spent", "average_order_value", "first_order_at", "last_order_at")


def copy_metrics(apps, schema_editor):  # type: ignore[no-untyped-def]
    quote = schema_editor.quote_name
    columns = ", ".join(quote(c) for c in COLUMNS)
    selected = ", ".join(f"p.{quote(c)}" for c in COLUMNS)
    # A row-value assignment from a correlated subquery: the same statement on SQLite (3.15+)
    # and PostgreSQL.
    schema_editor.execute(
        f"UPDATE contacts_contact SET ({columns}) = "  # noqa: S608 - fixed names
        f"(SELECT {selected} FROM tracking_purchasestats p WHERE p.contact_id = contacts_contact.id) "
        "WHERE id IN (SELECT contact_id FROM tracking_purchasestats)"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0014_purchase_metrics"),
        ("orders", "0003_product_unit_edited"),
    ]

    operations = [migrations.RunPython(copy_metrics, migrations.RunPython.noop)]
