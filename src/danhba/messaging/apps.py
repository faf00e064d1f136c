from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "danhba.messaging"
    label = "messaging"
    verbose_name = _("Email")

    def ready(self) -> None:
        from danhba.audit.display import AUDIT_TYPES, AuditType
        from danhba.messaging.hooks import BOUNCE_RECEIVED
        from danhba.messaging.services.activity import activity_from_events
        from danhba.messaging.services.bounces import bounce_apply
        from danhba.tracking.hooks import EVENTS_STORED

        BOUNCE_RECEIVED.connect(bounce_apply)
        EVENTS_STORED.connect(activity_from_events)

        from danhba.contacts.changes import CONTACTS_CHANGED
        from danhba.messaging.transport import mail_files_on_contacts_changed

        CONTACTS_CHANGED.connect(mail_files_on_contacts_changed)

        from danhba.messaging.selectors import campaign_choices, campaign_names
        from danhba.segments.extensions import EMAIL_CAMPAIGNS, CampaignNames

        EMAIL_CAMPAIGNS.add("messaging", CampaignNames(choices=campaign_choices, names=campaign_names))

        # An ESP's webhook events: anymail hands them over only as this Django signal.
        from anymail.signals import tracking

        from danhba.messaging.services.esp import esp_signal_received

        tracking.connect(esp_signal_received, dispatch_uid="danhba.messaging.esp")

        AUDIT_TYPES.add(
            "email_template", AuditType(model="messaging.EmailTemplate", keys={"test_sent_to": _("test sent to")})
        )
        AUDIT_TYPES.add(
            "campaign",
            AuditType(
                model="messaging.Campaign",
                keys={"template": _("template"), "exclude_segments": _("excluded segments")},
            ),
        )
        AUDIT_TYPES.add("sending_domain", AuditType(model="messaging.SendingDomain"))
