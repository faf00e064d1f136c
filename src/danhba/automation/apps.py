from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AutomationConfig(AppConfig):
    name = "danhba.automation"
    label = "automation"
    verbose_name = _("Workflows")

    def ready(self) -> None:
        from danhba.audit.display import AUDIT_TYPES, AuditType
        from danhba.automation import params_forms, triggers
        from danhba.automation.kinds import CHOICES, STEP_KINDS, TRIGGER_KINDS
        from danhba.automation.services import steps
        from danhba.contacts.changes import CONTACTS_CHANGED
        from danhba.scoring.hooks import SCORE_REACHED
        from danhba.segments.hooks import SEGMENT_CHANGED
        from danhba.tracking.hooks import EVENTS_STORED

        for kind in steps.BUILTIN:
            STEP_KINDS.add(kind.key, kind)
        for trigger in triggers.BUILTIN:
            TRIGGER_KINDS.add(trigger.key, trigger)
        # Where the editor's choice fields get their options (sales adds its own).
        for name, source in params_forms.choice_sources().items():
            CHOICES.add(name, source)
        # Triggers come from the writes below, in their transactions (triggers.py).
        CONTACTS_CHANGED.connect(triggers.on_contacts_changed)
        EVENTS_STORED.connect(triggers.on_events_stored)
        SEGMENT_CHANGED.connect(triggers.on_segment_changed)
        SCORE_REACHED.connect(triggers.on_score_reached)
        AUDIT_TYPES.add("workflow", AuditType(model="automation.Workflow", keys={"version": _("version")}))
        self._contact_panel()
        self._merge()
        self._demo()

    def _demo(self) -> None:
        from danhba.automation import demo
        from danhba.core.demo import DemoPart, demo_part_add

        # After scoring (the model the playbook watches) and sales (the assignment rule).
        labels = (("workflows", "active workflows"), ("enrolments", "workflow enrolments"))
        demo_part_add("automation", DemoPart(floor=6, order=70, load=demo.demo_automation_part, labels=labels))

    def _merge(self) -> None:
        from danhba.automation import merging
        from danhba.contacts.extensions import MERGE_TABLES, MergeTable

        # One enrolment in progress per workflow and contact, after a merge of contacts too.
        handling = MergeTable(before=merging.enrolments_merge, undone=merging.enrolments_unmerge)
        MERGE_TABLES.add("automation.enrolment", handling)

    def _contact_panel(self) -> None:
        from danhba.automation import views
        from danhba.contacts.extensions import CONTACT_PANELS, Panel

        CONTACT_PANELS.add("workflows", Panel(template="automation/_contact_panel.html", context=views.contact_panel))
