from django.db import migrations

ALL = ["view", "create", "edit", "delete", "export"]
CRUD = ["view", "create", "edit", "delete"]
OBJECTS = ["contact", "company", "timeline", "tag", "consent", "customfield", "audit", "user", "role", "apikey"]
ROLES = {
    "admin": ("Admin", "all", ["*"], {obj: ALL for obj in OBJECTS}),
    "marketing": (
        "Marketing",
        "all",
        ["birthday", "gender"],
        {
            "contact": [*CRUD, "export"],
            "company": [*CRUD, "export"],
            "timeline": ["view", "create", "edit"],
            "tag": CRUD,
            "consent": ["view", "create"],
            "customfield": ["view"],
        },
    ),
    "sales": (
        "Sales",
        "own",
        [],
        {
            "contact": ["view", "create", "edit"],
            "company": ["view", "create", "edit"],
            "timeline": ["view", "create", "edit"],
            "tag": ["view"],
            "consent": ["view", "create"],
            "customfield": ["view"],
        },
    ),
    "support": (
        "Support",
        "all",
        [],
        {
            "contact": ["view", "edit"],
            "company": ["view"],
            "timeline": ["view", "create", "edit"],
            "tag": ["view"],
            "consent": ["view", "create"],
            "customfield": ["view"],
        },
    ),
    "analyst": (
        "Analyst",
        "all",
        [],
        {
            "contact": ["view", "export"],
            "company": ["view", "export"],
            "timeline": ["view"],
            "tag": ["view"],
            "consent": ["view"],
            "customfield": ["view"],
        },
    ),
}


def seed(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for key, (name, scope, sensitive, permissions) in ROLES.items():
        Role.objects.get_or_create(
            key=key,
            defaults={
                "name": name,
                "is_builtin": True,
                "record_scope": scope,
                "sensitive_fields": sensitive,
                "permissions": permissions,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
