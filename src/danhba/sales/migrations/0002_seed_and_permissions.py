"""The usual lost reasons (admins change the list), and the built-in roles' permissions on the
new objects "pipeline", "deal" and "task". Roles an admin changed keep everything else; only a
missing entry is added."""

from django.db import migrations

LOST_REASONS = [
    ("budget", "Too expensive / no budget", "Quá đắt / không có ngân sách"),
    ("competitor", "Chose a competitor", "Chọn đối thủ cạnh tranh"),
    ("missing-feature", "Missing feature", "Thiếu tính năng"),
    ("timing", "Timing", "Chưa đúng thời điểm"),
    ("no-response", "No response", "Không phản hồi"),
]
ALL = ["view", "create", "edit", "delete", "export"]
GRANTS = {
    "admin": {"pipeline": ALL, "deal": ALL, "task": ALL},
    "marketing": {"pipeline": ["view"], "deal": ["view", "export"], "task": ["view"]},
    "sales": {
        "pipeline": ["view"],
        "deal": ["view", "create", "edit", "delete", "export"],
        "task": ["view", "create", "edit", "delete"],
    },
    "support": {"pipeline": ["view"], "deal": ["view"], "task": ["view", "create", "edit"]},
    "analyst": {"pipeline": ["view"], "deal": ["view", "export"], "task": ["view"]},
}


def seed(apps, schema_editor):
    LostReason = apps.get_model("sales", "LostReason")
    for position, (key, name, name_vi) in enumerate(LOST_REASONS):
        LostReason.objects.get_or_create(
            key=key, defaults={"name": name, "name_vi": name_vi, "position": position * 10}
        )
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(key__in=GRANTS, is_builtin=True):
        permissions = dict(role.permissions or {})
        for obj, actions in GRANTS[role.key].items():
            permissions.setdefault(obj, actions)
        role.permissions = permissions
        role.save(update_fields=["permissions"])


def unseed(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for role in Role.objects.filter(key__in=GRANTS, is_builtin=True):
        permissions = {k: v for k, v in (role.permissions or {}).items() if k not in ("pipeline", "deal", "task")}
        role.permissions = permissions
        role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("sales", "0001_sales"), ("accounts", "0002_builtin_roles")]
    operations = [migrations.RunPython(seed, unseed)]
