from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QualityConfig(AppConfig):
    """Data quality: duplicate detection and reversible merge, decay, cleaning, the dashboard."""

    name = "danhba.quality"
    label = "quality"
    verbose_name = _("Data quality")

    def ready(self) -> None:
        from danhba.audit.display import AUDIT_TYPES, AuditType
        from danhba.contacts.changes import CONTACTS_CHANGED
        from danhba.contacts.extensions import CONTACT_MOVED, MERGE_TABLES, MergeTable
        from danhba.core.demo import DemoPart, demo_part_add
        from danhba.quality import demo
        from danhba.quality.selectors import merge_survivor_of
        from danhba.quality.services import duplicates

        # A merge's own record keeps the survivor's id as it was (undo needs it).
        MERGE_TABLES.add("quality.merge", MergeTable(strategy="keep"))
        # Pairs of a merged-away contact go (undo puts them back); the next run finds the
        # survivor's own.
        MERGE_TABLES.add("quality.duplicatepair", MergeTable(strategy="drop"))
        # The old URL of a merged-away contact answers with the survivor's.
        CONTACT_MOVED.connect(merge_survivor_of)
        # New contacts, from any door, are checked against their likely duplicates.
        CONTACTS_CHANGED.connect(duplicates.on_contacts_changed)
        AUDIT_TYPES.add("duplicate_pair", AuditType(model="quality.DuplicatePair"))
        AUDIT_TYPES.add("duplicate_run", AuditType(model="quality.DuplicateRun"))
        AUDIT_TYPES.add("duplicate_settings", AuditType(model="quality.DuplicateSettings"))
        demo_part_add(
            "duplicates",
            DemoPart(
                floor=6, order=60, load=demo.demo_duplicates_part, labels=(("duplicate_pairs", "duplicate pairs"),)
            ),
        )
