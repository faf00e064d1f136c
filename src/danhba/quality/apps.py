from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QualityConfig(AppConfig):
    """Data quality: duplicate detection and reversible merge, decay, cleaning, the dashboard."""

    name = "danhba.quality"
    label = "quality"
    verbose_name = _("Data quality")
