from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CaptureConfig(AppConfig):
    """Lead capture: web forms and the Facebook Lead Ads / Zalo OA webhooks."""

    name = "danhba.capture"
    label = "capture"
    verbose_name = _("Lead capture")
