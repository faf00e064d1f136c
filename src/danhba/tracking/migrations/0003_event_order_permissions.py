"""Give the built-in roles their permissions on the new objects "event" (the event explorer),
"order" (orders and products) and "webhook" (outbound webhooks). Roles an admin changed keep
everything else as it is; only a missing entry is added."""

from django.db import migrations

GRANTS = {
    "admin": {
        "event": ["view", "create", "edit", "delete", "export"],
        "order": ["view", "create", "edit", "delete", "export"],
        "webhook": ["view", "create", "edit", "delete", "export"],
    },
    "marketing": {"event": ["view"], "order": ["view", "export"]},
    "sales": {"event": ["view"], "order": ["view"]},
    "support": {"event": ["view"], "order": ["view"]},
    "analyst": {"event": ["view", "export"], "order": ["view", "export"]},
}


def grant(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(key__in=GRANTS, is_builtin=True):
        permissions = dict(role.permissions or {})
        missing = {obj: actions for obj, actions in GRANTS[role.key].items() if obj not in permissions}
        if missing:
            role.permissions = {**permissions, **missing}
            role.save(update_fields=["permissions"])


def revoke(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(key__in=GRANTS, is_builtin=True):
        permissions = dict(role.permissions or {})
        for obj in GRANTS[role.key]:
            permissions.pop(obj, None)
        role.permissions = permissions
        role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("tracking", "0002_source_permissions"), ("accounts", "0002_builtin_roles")]
    operations = [migrations.RunPython(grant, revoke)]
