from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrackingConfig(AppConfig):
    name = "danhba.tracking"
    label = "tracking"

    def ready(self) -> None:
        from danhba.audit.display import AUDIT_TYPES, AuditType
        from danhba.contacts.extensions import MERGE_TABLES, TIMELINE_SOURCES, MergeTable, TimelineSource
        from danhba.core.demo import DemoPart, demo_part_add
        from danhba.tracking import demo, selectors
        from danhba.tracking.retention import event_audit_label

        AUDIT_TYPES.add("source", AuditType(model="tracking.Source"))
        # Suspected duplicates of a merged-away contact are settled by the merge (undo restores them).
        MERGE_TABLES.add("tracking.suspectedduplicate", MergeTable(strategy="drop"))
        retention = AuditType(model="tracking.EventRetention", keys={"keep_months": _("months kept")})
        AUDIT_TYPES.add("event_retention", retention)
        AUDIT_TYPES.add("event", AuditType(label=event_audit_label))
        part = DemoPart(floor=5, order=20, load=demo.demo_events_part, labels=(("events", "events"),))
        demo_part_add("events", part)
        # A contact's events join its timeline (selectors.timeline_events).
        TIMELINE_SOURCES.add(
            "events",
            TimelineSource(
                rank=selectors.EVENT_RANK,
                permission=("event", "view"),
                kinds=((selectors.KIND_PAGES, _("Page views")), (selectors.KIND_EVENTS, _("Other events"))),
                rows=selectors.timeline_events,
                footer="tracking/_timeline_footer.html",
                describe=selectors.timeline_describe,
            ),
        )
