"""An index on when consent was recorded: the home page counts consent given or withdrawn in the
last days without reading the whole ledger."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0002_purposes_and_insert_only"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="consentrecord",
            index=models.Index(fields=["recorded_at", "id"], name="consent_recorded_at"),
        ),
    ]
