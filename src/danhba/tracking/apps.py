from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "danhba.tracking"
    label = "tracking"
