import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0008_orders_moved_to_orders"),
    ]

    operations = [
        migrations.AddField(
            model_name="eventinbox",
            name="claim_token",
            field=models.CharField(blank=True, max_length=32, null=True),
        ),
        migrations.AlterField(
            model_name="eventinbox",
            name="source",
            field=models.ForeignKey(
                db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="tracking.source"
            ),
        ),
    ]
