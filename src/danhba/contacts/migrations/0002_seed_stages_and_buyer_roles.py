from django.db import migrations

STAGES = [
    ("subscriber", "Subscriber", "Người đăng ký"),
    ("lead", "Lead", "Khách hàng tiềm năng"),
    ("mql", "Marketing qualified lead", "Tiềm năng đủ điều kiện marketing (MQL)"),
    ("sql", "Sales qualified lead", "Tiềm năng đủ điều kiện bán hàng (SQL)"),
    ("opportunity", "Opportunity", "Cơ hội"),
    ("customer", "Customer", "Khách hàng"),
    ("evangelist", "Evangelist", "Người ủng hộ"),
]
BUYER_ROLES = [
    ("decision_maker", "Decision maker", "Người quyết định"),
    ("influencer", "Influencer", "Người ảnh hưởng"),
    ("user", "User", "Người sử dụng"),
    ("gatekeeper", "Gatekeeper", "Người gác cổng"),
]


def seed(apps, schema_editor):
    for model_name, rows in (("LifecycleStage", STAGES), ("BuyerRole", BUYER_ROLES)):
        model = apps.get_model("contacts", model_name)
        for position, (key, name, name_vi) in enumerate(rows):
            model.objects.get_or_create(key=key, defaults={"name": name, "name_vi": name_vi, "position": position * 10})


class Migration(migrations.Migration):
    dependencies = [("contacts", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
