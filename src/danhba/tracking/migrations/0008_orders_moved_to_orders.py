"""Order, OrderLine, Product and PurchaseStats now belong to the orders app (orders 0001):
tracking forgets them in Django's state only; the tables and their rows stay as they are."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0007_event_index_for_segments"),
        ("orders", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="orderline", name="order"),
                migrations.RemoveField(model_name="orderline", name="product"),
                migrations.RemoveField(model_name="purchasestats", name="contact"),
                migrations.DeleteModel(name="Order"),
                migrations.DeleteModel(name="OrderLine"),
                migrations.DeleteModel(name="Product"),
                migrations.DeleteModel(name="PurchaseStats"),
            ],
            database_operations=[],
        ),
    ]
