"""URLs of the contacts app: ``contacts.py`` under /contacts/, ``settings.py`` under /settings/."""
