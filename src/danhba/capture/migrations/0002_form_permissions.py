"""The built-in roles' permissions on the new objects "form" (marketing manages the forms) and
"submission" (sales and support read what the forms brought in). Roles an admin changed keep
everything else; only a missing entry is added."""

from django.db import migrations

ALL = ["view", "create", "edit", "delete", "export"]
GRANTS = {
    "admin": {"form": ALL, "submission": ALL},
    "marketing": {"form": ["view", "create", "edit", "delete"], "submission": ["view", "edit", "export"]},
    "sales": {"submission": ["view"]},
    "support": {"submission": ["view"]},
    "analyst": {"form": ["view"], "submission": ["view"]},
}


def grant(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(key__in=GRANTS, is_builtin=True):
        permissions = dict(role.permissions or {})
        for obj, actions in GRANTS[role.key].items():
            permissions.setdefault(obj, actions)
        role.permissions = permissions
        role.save(update_fields=["permissions"])


def ungrant(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(key__in=GRANTS, is_builtin=True):
        role.permissions = {k: v for k, v in (role.permissions or {}).items() if k not in ("form", "submission")}
        role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("capture", "0001_web_forms"), ("accounts", "0002_builtin_roles")]
    operations = [migrations.RunPython(grant, ungrant)]
