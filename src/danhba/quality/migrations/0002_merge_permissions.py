"""The built-in roles' permissions on the new object "merge" (contact merges: view the history,
create = merge, edit = the survivorship rules, delete = undo). Roles an admin changed keep
everything else; only a missing entry is added."""

from django.db import migrations

ALL = ["view", "create", "edit", "delete", "export"]
GRANTS = {"admin": ALL, "marketing": ["view", "create", "delete"], "analyst": ["view"]}


def grant(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(key__in=GRANTS, is_builtin=True):
        permissions = dict(role.permissions or {})
        permissions.setdefault("merge", GRANTS[role.key])
        role.permissions = permissions
        role.save(update_fields=["permissions"])


def ungrant(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(key__in=GRANTS, is_builtin=True):
        role.permissions = {k: v for k, v in (role.permissions or {}).items() if k != "merge"}
        role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("quality", "0001_merges"), ("accounts", "0002_builtin_roles")]
    operations = [migrations.RunPython(grant, ungrant)]
