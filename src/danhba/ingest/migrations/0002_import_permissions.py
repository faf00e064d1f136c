"""Give the built-in roles their permissions on imports (new object "import"). Roles an admin
changed keep everything else as it is; only a missing "import" entry is added."""

from django.db import migrations

GRANTS = {
    "admin": ["view", "create", "edit", "delete", "export"],
    "marketing": ["view", "create", "delete"],
    "sales": ["view", "create"],
    "analyst": ["view"],
}


def grant(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(key__in=GRANTS, is_builtin=True):
        permissions = dict(role.permissions or {})
        if "import" not in permissions:
            permissions["import"] = GRANTS[role.key]
            role.permissions = permissions
            role.save(update_fields=["permissions"])


def revoke(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(key__in=GRANTS, is_builtin=True):
        permissions = dict(role.permissions or {})
        if permissions.pop("import", None) is not None:
            role.permissions = permissions
            role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("ingest", "0001_imports"), ("accounts", "0002_builtin_roles")]
    operations = [migrations.RunPython(grant, revoke)]
