from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "danhba.webhooks"
    label = "webhooks"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from danhba.audit.display import AUDIT_TYPES, AuditType
        from danhba.contacts.changes import CONTACTS_CHANGED
        from danhba.orders.hooks import ORDER_CREATED
        from danhba.tracking.hooks import EVENTS_STORED
        from danhba.webhooks import services

        # contact.created / contact.updated, event.received, order.created: services.py.
        CONTACTS_CHANGED.connect(services.on_contacts_changed)
        EVENTS_STORED.connect(services.on_events_stored)
        ORDER_CREATED.connect(services.on_order_created)
        keys = {"resent": _("sent again"), "succeeded": _("succeeded"), "secret": _("secret")}
        AUDIT_TYPES.add("webhook", AuditType(model="webhooks.WebhookEndpoint", keys=keys))
