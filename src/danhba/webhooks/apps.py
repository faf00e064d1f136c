from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "danhba.webhooks"
    label = "webhooks"
