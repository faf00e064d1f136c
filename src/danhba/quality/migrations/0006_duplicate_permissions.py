"""Give the built-in roles their permissions on the new object "duplicate" (the review queue).
Roles an admin changed keep everything else; only a missing entry is added."""

from django.db import migrations

GRANTS = {
    "admin": ["view", "create", "edit", "delete", "export"],
    "marketing": ["view", "edit"],
    "support": ["view"],
    "analyst": ["view"],
}


def grant(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(key__in=GRANTS, is_builtin=True):
        permissions = dict(role.permissions or {})
        if "duplicate" not in permissions:
            permissions["duplicate"] = GRANTS[role.key]
            role.permissions = permissions
            role.save(update_fields=["permissions"])


def revoke(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(key__in=GRANTS, is_builtin=True):
        permissions = dict(role.permissions or {})
        permissions.pop("duplicate", None)
        role.permissions = permissions
        role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("quality", "0005_duplicates"), ("accounts", "0002_builtin_roles")]
    operations = [migrations.RunPython(grant, revoke)]
