from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "danhba.ingest"
    label = "ingest"

    def ready(self) -> None:
        from danhba.contacts.extensions import CONTACT_PANELS, Panel

        # "Imported from": the template asks ingest_ui which imports the reader may see.
        CONTACT_PANELS.add(
            "imports", Panel("ingest/_contact_imports.html", lambda request, contact: {}, "side"), position=20
        )
