"""Give the built-in Admin role the permissions on event sources (new object "source"). Roles an
admin changed keep everything else as it is; only a missing "source" entry is added."""

from django.db import migrations

GRANTS = {"admin": ["view", "create", "edit", "delete", "export"]}


def grant(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(key__in=GRANTS, is_builtin=True):
        permissions = dict(role.permissions or {})
        if "source" not in permissions:
            permissions["source"] = GRANTS[role.key]
            role.permissions = permissions
            role.save(update_fields=["permissions"])


def revoke(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(key__in=GRANTS, is_builtin=True):
        permissions = dict(role.permissions or {})
        if permissions.pop("source", None) is not None:
            role.permissions = permissions
            role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("tracking", "0001_events"), ("accounts", "0002_builtin_roles")]
    operations = [migrations.RunPython(grant, revoke)]
