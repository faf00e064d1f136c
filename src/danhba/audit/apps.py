from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "danhba.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from danhba.audit.services import audit_event
        from danhba.core import audit

        # accounts sits below this app: its audited writes come through core.audit.record.
        audit.install(audit_event)
