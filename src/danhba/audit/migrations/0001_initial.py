"""The audit log moves from privacy to its own app. Only Django's record of which app owns the
model changes: the table keeps its name (privacy_auditevent), its rows, its indexes and its
insert-only triggers; no SQL runs on it."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def content_type_moved(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="privacy", model="auditevent").update(app_label="audit")


def content_type_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="audit", model="auditevent").update(app_label="privacy")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("privacy", "0003_consentrecord_recorded_at"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEvent",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("actor_label", models.CharField(blank=True, max_length=254)),
                        (
                            "via",
                            models.CharField(
                                choices=[
                                    ("ui", "Web UI"),
                                    ("api", "API"),
                                    ("cli", "Command line"),
                                    ("job", "Background job"),
                                ],
                                max_length=5,
                            ),
                        ),
                        (
                            "action",
                            models.CharField(
                                choices=[
                                    ("create", "created"),
                                    ("update", "changed"),
                                    ("delete", "deleted"),
                                    ("view", "opened"),
                                    ("export", "exported"),
                                    ("login", "logged in"),
                                    ("login_failed", "failed to log in"),
                                    ("logout", "logged out"),
                                ],
                                max_length=20,
                            ),
                        ),
                        ("object_type", models.CharField(max_length=40)),
                        ("object_id", models.CharField(blank=True, max_length=64)),
                        ("object_label", models.CharField(blank=True, max_length=254)),
                        ("contact_id", models.BigIntegerField(blank=True, null=True)),
                        ("changes", models.JSONField(blank=True, default=dict)),
                        ("ip_address", models.GenericIPAddressField(blank=True, null=True)),
                        ("user_agent", models.CharField(blank=True, max_length=255)),
                        (
                            "actor",
                            models.ForeignKey(
                                blank=True,
                                db_constraint=False,
                                null=True,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "privacy_auditevent",
                        "ordering": ["-at", "-id"],
                        "indexes": [
                            models.Index(fields=["contact_id", "at"], name="audit_contact_at"),
                            models.Index(fields=["at", "id"], name="audit_at_id"),
                            models.Index(fields=["actor", "at"], name="audit_actor_at"),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_type_moved, content_type_back),
    ]
