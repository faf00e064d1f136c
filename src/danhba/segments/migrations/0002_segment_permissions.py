"""Give the built-in roles their permissions on the new object "segment" (segments and static
lists). Roles an admin changed keep everything else; only a missing entry is added."""

from django.db import migrations

ALL = ["view", "create", "edit", "delete", "export"]
GRANTS = {
    "admin": ALL,
    "marketing": ALL,
    "sales": ["view"],
    "support": ["view"],
    "analyst": ["view", "export"],
}


def grant(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(key__in=GRANTS, is_builtin=True):
        permissions = dict(role.permissions or {})
        if "segment" not in permissions:
            permissions["segment"] = GRANTS[role.key]
            role.permissions = permissions
            role.save(update_fields=["permissions"])


def revoke(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(key__in=GRANTS, is_builtin=True):
        permissions = dict(role.permissions or {})
        permissions.pop("segment", None)
        role.permissions = permissions
        role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("segments", "0001_segments"), ("accounts", "0002_builtin_roles")]
    operations = [migrations.RunPython(grant, revoke)]
