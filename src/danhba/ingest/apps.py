from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "danhba.ingest"
    label = "ingest"
