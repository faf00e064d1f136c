from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "danhba.analytics"
    label = "analytics"
