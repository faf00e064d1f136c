"""Pages of the contacts app: contacts and companies (``contacts.py``), exports (``exports.py``)
and the Fields and stages settings (``settings.py``)."""
