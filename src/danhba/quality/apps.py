from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QualityConfig(AppConfig):
    """Data quality: duplicate detection and reversible merge, decay, cleaning, the dashboard."""

    name = "danhba.quality"
    label = "quality"
    verbose_name = _("Data quality")

    def ready(self) -> None:
        from danhba.contacts.extensions import CONTACT_MOVED, MERGE_TABLES, MergeTable
        from danhba.quality.selectors import merge_survivor_of

        # A merge's own record keeps the survivor's id as it was (undo needs it).
        MERGE_TABLES.add("quality.merge", MergeTable(strategy="keep"))
        # The old URL of a merged-away contact answers with the survivor's.
        CONTACT_MOVED.connect(merge_survivor_of)
