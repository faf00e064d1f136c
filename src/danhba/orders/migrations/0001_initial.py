"""The orders app takes over Order, OrderLine, Product and PurchaseStats from tracking (issue 12"s
floor plan). Only Django"s record of which app owns the models changes: the tables keep their
names (tracking_order, tracking_orderline, tracking_product, tracking_purchasestats), rows,
indexes and constraints; no SQL runs on them."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

import danhba.orders.models

MODELS = ("order", "orderline", "product", "purchasestats")


def content_types_moved(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="tracking", model__in=MODELS).update(app_label="orders")


def content_types_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="orders", model__in=MODELS).update(app_label="tracking")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contacts", "0009_exportjob"),
        ("tracking", "0007_event_index_for_segments"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Product",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("product_id", models.CharField(max_length=200, unique=True, verbose_name="product id")),
                        ("name", models.CharField(blank=True, max_length=300, verbose_name="name")),
                        (
                            "category",
                            models.CharField(blank=True, db_index=True, max_length=200, verbose_name="category"),
                        ),
                        (
                            "price",
                            models.DecimalField(
                                blank=True, decimal_places=2, max_digits=18, null=True, verbose_name="price"
                            ),
                        ),
                        (
                            "currency",
                            models.CharField(
                                default=danhba.orders.models.shop_currency, max_length=3, verbose_name="currency"
                            ),
                        ),
                        ("last_ordered_at", models.DateTimeField(blank=True, null=True, verbose_name="last ordered")),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="created")),
                        ("updated_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="updated")),
                    ],
                    options={
                        "db_table": "tracking_product",
                        "ordering": ["name", "id"],
                    },
                ),
                migrations.CreateModel(
                    name="PurchaseStats",
                    fields=[
                        (
                            "contact",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                primary_key=True,
                                related_name="purchase_stats",
                                serialize=False,
                                to="contacts.contact",
                            ),
                        ),
                        ("first_order_at", models.DateTimeField(blank=True, null=True, verbose_name="first order")),
                        (
                            "last_order_at",
                            models.DateTimeField(blank=True, db_index=True, null=True, verbose_name="last order"),
                        ),
                        ("order_count", models.PositiveIntegerField(db_index=True, default=0, verbose_name="orders")),
                        ("money_order_count", models.PositiveIntegerField(default=0)),
                        (
                            "total_spent",
                            models.DecimalField(
                                db_index=True, decimal_places=2, default=0, max_digits=18, verbose_name="total spent"
                            ),
                        ),
                        (
                            "average_order_value",
                            models.DecimalField(
                                decimal_places=2, default=0, max_digits=18, verbose_name="average order value"
                            ),
                        ),
                        (
                            "purchase_frequency_days",
                            models.FloatField(blank=True, null=True, verbose_name="days between orders"),
                        ),
                        ("categories", models.JSONField(blank=True, default=dict)),
                        (
                            "favourite_category",
                            models.CharField(
                                blank=True, db_index=True, max_length=200, verbose_name="favourite category"
                            ),
                        ),
                        ("updated_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="updated")),
                    ],
                    options={
                        "verbose_name_plural": "purchase stats",
                        "db_table": "tracking_purchasestats",
                    },
                ),
                migrations.CreateModel(
                    name="Order",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        ("order_id", models.CharField(max_length=200, unique=True, verbose_name="order id")),
                        ("anonymous_id", models.CharField(blank=True, max_length=200)),
                        ("placed_at", models.DateTimeField(verbose_name="placed")),
                        (
                            "channel",
                            models.CharField(
                                choices=[
                                    ("online", "Online"),
                                    ("store", "Store"),
                                    ("marketplace", "Marketplace"),
                                    ("phone", "Phone"),
                                ],
                                default="online",
                                max_length=12,
                                verbose_name="channel",
                            ),
                        ),
                        ("store", models.CharField(blank=True, max_length=200, verbose_name="store")),
                        (
                            "currency",
                            models.CharField(
                                default=danhba.orders.models.shop_currency, max_length=3, verbose_name="currency"
                            ),
                        ),
                        (
                            "subtotal",
                            models.DecimalField(decimal_places=2, default=0, max_digits=18, verbose_name="subtotal"),
                        ),
                        (
                            "discount",
                            models.DecimalField(decimal_places=2, default=0, max_digits=18, verbose_name="discount"),
                        ),
                        (
                            "shipping",
                            models.DecimalField(decimal_places=2, default=0, max_digits=18, verbose_name="shipping"),
                        ),
                        ("tax", models.DecimalField(decimal_places=2, default=0, max_digits=18, verbose_name="tax")),
                        (
                            "total",
                            models.DecimalField(decimal_places=2, default=0, max_digits=18, verbose_name="total"),
                        ),
                        (
                            "refunded_amount",
                            models.DecimalField(decimal_places=2, default=0, max_digits=18, verbose_name="refunded"),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("completed", "Completed"),
                                    ("partially_refunded", "Partially refunded"),
                                    ("refunded", "Refunded"),
                                    ("cancelled", "Cancelled"),
                                ],
                                default="completed",
                                max_length=20,
                                verbose_name="status",
                            ),
                        ),
                        ("properties", models.JSONField(blank=True, default=dict)),
                        ("refunds", models.JSONField(blank=True, default=list)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="created")),
                        ("updated_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="updated")),
                        (
                            "contact",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="orders",
                                to="contacts.contact",
                            ),
                        ),
                        (
                            "source",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="tracking.source",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "tracking_order",
                    },
                ),
                migrations.CreateModel(
                    name="OrderLine",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        ("position", models.PositiveIntegerField(default=0)),
                        ("name", models.CharField(blank=True, max_length=300, verbose_name="name")),
                        ("category", models.CharField(blank=True, max_length=200, verbose_name="category")),
                        ("quantity", models.PositiveIntegerField(default=1, verbose_name="quantity")),
                        (
                            "price",
                            models.DecimalField(decimal_places=2, default=0, max_digits=18, verbose_name="price"),
                        ),
                        (
                            "discount",
                            models.DecimalField(decimal_places=2, default=0, max_digits=18, verbose_name="discount"),
                        ),
                        (
                            "total",
                            models.DecimalField(decimal_places=2, default=0, max_digits=18, verbose_name="total"),
                        ),
                        ("refunded_quantity", models.PositiveIntegerField(default=0, verbose_name="refunded quantity")),
                        (
                            "order",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="lines", to="orders.order"
                            ),
                        ),
                        (
                            "product",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="lines",
                                to="orders.product",
                                to_field="product_id",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "tracking_orderline",
                        "ordering": ["order", "position", "id"],
                    },
                ),
                migrations.AddIndex(
                    model_name="order",
                    index=models.Index(fields=["contact", "placed_at"], name="order_contact_placed"),
                ),
                migrations.AddIndex(
                    model_name="order",
                    index=models.Index(fields=["placed_at"], name="order_placed"),
                ),
                migrations.AddIndex(
                    model_name="order",
                    index=models.Index(
                        condition=models.Q(("contact__isnull", True)),
                        fields=["anonymous_id"],
                        name="order_anon_unassigned",
                    ),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_moved, content_types_back),
    ]
