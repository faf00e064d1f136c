from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "danhba.privacy"
    label = "privacy"
