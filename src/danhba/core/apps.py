from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "danhba.core"
    label = "core"
