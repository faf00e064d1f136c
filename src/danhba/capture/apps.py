from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CaptureConfig(AppConfig):
    """Lead capture: web forms and the Facebook Lead Ads / Zalo OA webhooks."""

    name = "danhba.capture"
    label = "capture"
    verbose_name = _("Lead capture")

    def ready(self) -> None:
        from danhba.audit.display import AUDIT_TYPES, AuditType
        from danhba.automation.kinds import CHOICES
        from danhba.capture.forms.selectors import web_form_choices

        # The workflow editor's "form submitted" trigger picks a form from these.
        CHOICES.add("web_forms", web_form_choices)

        # Web forms
        AUDIT_TYPES.add("webform", AuditType(model="capture.WebForm"))
        AUDIT_TYPES.add("formsubmission", AuditType(model="capture.FormSubmission"))
        # Lead channels
        AUDIT_TYPES.add("channel", AuditType(model="capture.ChannelConnection"))
        AUDIT_TYPES.add("channel_payload", AuditType(model="capture.ChannelPayload"))
        from danhba.capture.forms import demo as forms_demo
        from danhba.core.demo import DemoPart, demo_part_add

        demo_part_add(
            "forms",
            DemoPart(
                floor=6,
                order=60,
                load=forms_demo.demo_forms_part,
                present=forms_demo.demo_forms_present,
                labels=(("web_forms", "web forms"), ("form_submissions", "form submissions")),
            ),
        )
