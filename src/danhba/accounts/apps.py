from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "danhba.accounts"
    label = "accounts"
