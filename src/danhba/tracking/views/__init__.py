"""Pages and endpoints of the tracking app: event sources in settings (``sources.py``), the event
API under ``/v1`` (``events.py``), what browsers and mail clients load (``browser.py``), the
event explorer (``explorer.py``) and the event retention settings (``retention.py``)."""
