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
        from danhba.contacts.extensions import (
            CONTACT_LIST_ACTIONS,
            CONTACT_LIST_FILTERS,
            CONTACT_MOVED,
            CONTACT_PANELS,
            CONTACTS_KEPT_ON_UNDO,
            MERGE_TABLES,
            ListAction,
            ListFilter,
            MergeTable,
            Panel,
        )
        from danhba.core.demo import DemoPart, demo_part_add
        from danhba.quality import demo, selectors
        from danhba.quality.conditions import QUALITY_CONDITION
        from danhba.quality.selectors import merge_survivor_of, merge_survivors_among
        from danhba.quality.services import duplicates, freshness
        from danhba.quality.services.freshness import freshness_mark
        from danhba.quality.views import contacts as contact_views
        from danhba.segments.extensions import CONDITION_KINDS

        # A merge's own record keeps the survivor's id as it was (undo needs it).
        MERGE_TABLES.add("quality.merge", MergeTable(strategy="keep"))
        # Pairs of a merged-away contact go (undo puts them back); the next run finds the
        # survivor's own.
        MERGE_TABLES.add("quality.duplicatepair", MergeTable(strategy="drop"))
        # The old URL of a merged-away contact answers with the survivor's.
        CONTACT_MOVED.connect(merge_survivor_of)
        # An import's undo keeps the contacts it created that other contacts were merged into:
        # deleting one would take the merged-away contacts' rows with it.
        CONTACTS_KEPT_ON_UNDO.connect(merge_survivors_among)
        # Freshness, decay signals and the archive are derived per contact: the merged-away
        # contacts' rows go (kept for undo) and the survivor's are computed again.
        derived = MergeTable(
            strategy="drop", after=lambda survivor, _others, _state: freshness_mark(contact_ids=[survivor])
        )
        for table in ("quality.freshness", "quality.decaysignal", "quality.contactarchive"):
            MERGE_TABLES.add(table, derived)

        # New contacts, from any door, are checked against their likely duplicates.
        CONTACTS_CHANGED.connect(duplicates.on_contacts_changed)
        # Freshness and decay signals follow every contact write (services/freshness.py).
        CONTACTS_CHANGED.connect(freshness.on_contacts_changed)
        AUDIT_TYPES.add("duplicate_pair", AuditType(model="quality.DuplicatePair"))
        AUDIT_TYPES.add("duplicate_run", AuditType(model="quality.DuplicateRun"))
        AUDIT_TYPES.add("duplicate_settings", AuditType(model="quality.DuplicateSettings"))
        AUDIT_TYPES.add("merge", AuditType(model="quality.Merge"))
        AUDIT_TYPES.add("merge_settings", AuditType(model="quality.MergeSettings"))
        AUDIT_TYPES.add("cleaning_job", AuditType(model="quality.CleaningJob"))
        AUDIT_TYPES.add("cleaning_run", AuditType(model="quality.CleaningRun"))
        # Segments and workflow branches read them through the condition kind "quality".
        CONDITION_KINDS.add("quality", QUALITY_CONDITION)
        # The contact list, API and exports filter on them: every dashboard number links there.
        CONTACT_LIST_FILTERS.add(
            "quality",
            ListFilter(
                params=("quality", "missing"),
                parse=selectors.filter_parse,
                condition=selectors.filter_q,
                fields=selectors.filter_fields,
                after="tag",
            ),
        )
        CONTACT_PANELS.add(
            "quality", Panel("quality/_contact_panel.html", contact_views.contact_panel, "side"), position=8
        )
        demo_part_add(
            "duplicates",
            DemoPart(
                floor=6, order=60, load=demo.demo_duplicates_part, labels=(("duplicate_pairs", "duplicate pairs"),)
            ),
        )
        demo_part_add(
            "quality",
            DemoPart(
                floor=6,
                order=90,
                load=demo.demo_quality_part,
                labels=(("freshness", "contacts checked for decay"),),
            ),
        )
        # "Merge" on the contact list's ticked contacts opens the merge page.
        merge_action = ListAction(_("Merge"), "quality:merge_page", (("merge", "create"), ("contact", "edit")))
        CONTACT_LIST_ACTIONS.add("merge", merge_action)
