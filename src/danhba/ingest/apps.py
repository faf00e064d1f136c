from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "danhba.ingest"
    label = "ingest"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from danhba.audit.display import AUDIT_TYPES, AuditType
        from danhba.contacts.extensions import CONTACT_PANELS, Panel

        keys = {"import": _("import"), "rows": _("rows"), "file": _("file"), "rejected rows": _("rejected rows")}
        AUDIT_TYPES.add("import", AuditType(model="ingest.Import", keys=keys))
        AUDIT_TYPES.add("savedmapping", AuditType(model="ingest.SavedMapping"))

        # "Imported from": the template asks ingest_ui which imports the reader may see.
        CONTACT_PANELS.add(
            "imports", Panel("ingest/_contact_imports.html", lambda request, contact: {}, "side"), position=20
        )
