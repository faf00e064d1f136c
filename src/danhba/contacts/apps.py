from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "danhba.contacts"
    label = "contacts"
