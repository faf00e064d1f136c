"""Give the built-in roles their permissions on the new object "quality" (decay signals,
cleaning jobs, the data-quality dashboard). Roles an admin changed keep everything else; only
a missing entry is added."""

from django.db import migrations

GRANTS = {
    "admin": ["view", "create", "edit", "delete", "export"],
    "marketing": ["view", "create", "edit"],
    "analyst": ["view", "export"],
}


def grant(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(key__in=GRANTS, is_builtin=True):
        permissions = dict(role.permissions or {})
        if "quality" not in permissions:
            permissions["quality"] = GRANTS[role.key]
            role.permissions = permissions
            role.save(update_fields=["permissions"])


def revoke(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(key__in=GRANTS, is_builtin=True):
        permissions = dict(role.permissions or {})
        permissions.pop("quality", None)
        role.permissions = permissions
        role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("quality", "0003_freshness_cleaning"), ("accounts", "0002_builtin_roles")]
    operations = [migrations.RunPython(grant, revoke)]
