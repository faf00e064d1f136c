from django.db import migrations

PURPOSES = [
    ("email_marketing", "Email marketing", "Tiếp thị qua email"),
    ("sms_marketing", "SMS marketing", "Tiếp thị qua SMS"),
    ("phone_calls", "Phone calls", "Gọi điện thoại"),
    ("profiling", "Profiling", "Phân tích hồ sơ"),
    ("partner_sharing", "Sharing with partners", "Chia sẻ với đối tác"),
]
TABLES = ["privacy_consentrecord", "privacy_auditevent"]


def seed(apps, schema_editor):
    Purpose = apps.get_model("privacy", "ConsentPurpose")
    for position, (key, name, name_vi) in enumerate(PURPOSES):
        Purpose.objects.get_or_create(key=key, defaults={"name": name, "name_vi": name_vi, "position": position * 10})


def insert_only(apps, schema_editor):
    """The database refuses to change or delete ledger and audit rows, whoever asks."""
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "sqlite":
            # DELETE is refused by the ORM only on SQLite: Django's test flush empties tables
            # with DELETE there (PostgreSQL uses TRUNCATE, which row triggers do not see).
            for op in ("UPDATE",):
                schema_editor.execute(
                    f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is insert-only'); END"
                )
        elif vendor == "postgresql":
            schema_editor.execute(
                f"CREATE OR REPLACE FUNCTION {table}_insert_only() RETURNS trigger AS $$ "
                f"BEGIN RAISE EXCEPTION '{table} is insert-only'; END; $$ LANGUAGE plpgsql"
            )
            schema_editor.execute(
                f"CREATE TRIGGER {table}_insert_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_insert_only()"
            )


def drop_insert_only(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "sqlite":
            for op in ("update",):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_{op}")
        elif vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_insert_only ON {table}")
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {table}_insert_only()")


class Migration(migrations.Migration):
    dependencies = [("privacy", "0001_initial")]
    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
        migrations.RunPython(insert_only, drop_insert_only),
    ]
