from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesConfig(AppConfig):
    name = "danhba.sales"
    label = "sales"
    verbose_name = _("Sales")

    def ready(self) -> None:
        from danhba.accounts.hooks import USER_DEACTIVATED
        from danhba.audit.display import AUDIT_TYPES, AuditType
        from danhba.automation.kinds import CHOICES, STEP_KINDS
        from danhba.contacts.changes import CONTACTS_CHANGED
        from danhba.contacts.extensions import CONTACT_PANELS, Panel
        from danhba.core.demo import DemoPart, demo_part_add
        from danhba.ingest.hooks import IMPORT_FINISHED
        from danhba.sales import demo, steps, views
        from danhba.sales.services import assignment, rules

        # Workflow steps (automation knows them only through its registry).
        for kind in steps.KINDS:
            STEP_KINDS.add(kind.key, kind)
        CHOICES.add("assignment_rules", steps.assignment_rules)
        CHOICES.add("lost_reasons", steps.lost_reasons)
        # New leads without an owner get one by the assignment rules, a write's batch at once.
        CONTACTS_CHANGED.connect(assignment.on_contacts_changed)
        # An import's leads: one notice per rep over its batches, one email when it ends.
        IMPORT_FINISHED.connect(assignment.on_import_finished)
        # A rep deactivated: their open contacts, deals and tasks go over by the rules.
        USER_DEACTIVATED.connect(rules.on_user_deactivated)
        AUDIT_TYPES.add("assignment_rule", AuditType(model="sales.AssignmentRule"))
        AUDIT_TYPES.add("price_list", AuditType(model="sales.PriceList", keys={"items": _("product prices")}))

        AUDIT_TYPES.add("pipeline", AuditType(model="sales.Pipeline"))
        AUDIT_TYPES.add("stage", AuditType(model="sales.Stage"))
        AUDIT_TYPES.add("deal", AuditType(model="sales.Deal"))
        AUDIT_TYPES.add("deal_line", AuditType(model="sales.DealLine"))
        AUDIT_TYPES.add("lost_reason", AuditType(model="sales.LostReason"))
        AUDIT_TYPES.add("task", AuditType(model="sales.Task"))
        CONTACT_PANELS.add("deals", Panel(template="sales/_contact_panel.html", context=views.contact_panel))
        demo_part_add(
            "sales",
            DemoPart(
                floor=6,
                order=50,
                load=demo.demo_sales_part,
                present=demo.demo_sales_present,
                labels=(("deals", "deals"), ("tasks", "tasks")),
            ),
        )
