from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    name = "danhba.segments"
    label = "segments"
    verbose_name = _("Segments")

    def ready(self) -> None:
        from danhba.contacts.audit_display import register_value_namer
        from danhba.segments.conditions import describe

        # Audit rows keep a segment's conditions as the tree; the log reads it as a sentence.
        register_value_namer("segment", "conditions", describe)
