from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    name = "danhba.segments"
    label = "segments"
    verbose_name = _("Segments")

    def ready(self) -> None:
        from danhba.audit.display import AUDIT_TYPES, AuditType
        from danhba.contacts.changes import CONTACTS_CHANGED
        from danhba.contacts.extensions import CONTACT_LIST_FILTERS, ListFilter
        from danhba.core.demo import DemoPart, demo_part_add
        from danhba.segments import demo, selectors, services
        from danhba.segments.conditions import describe

        # Audit rows keep a segment's conditions as the tree; the log reads it as a sentence.
        AUDIT_TYPES.add(
            "segment",
            AuditType(
                model="segments.Segment",
                keys={"conditions": _("conditions"), "segments": _("segments")},
                values={"conditions": describe},
            ),
        )
        demo_part_add("segments", DemoPart(floor=5, order=30, load=demo.demo_segments_part))
        # Membership follows every contact write (services.py explains how).
        CONTACTS_CHANGED.connect(services.on_contacts_changed)
        # The contact list, API and exports filter by segment or list membership.
        CONTACT_LIST_FILTERS.add(
            "segment",
            ListFilter(
                params=("segment",),
                parse=selectors.segment_filter_parse,
                condition=selectors.segment_filter_q,
                fields=selectors.segment_filter_fields,
                after="tag",
                export_permission=("segment", "export"),
            ),
        )
