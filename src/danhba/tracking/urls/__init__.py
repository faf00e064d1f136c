"""URLs of the tracking app, one module per place they are mounted (see ``danhba/urls.py``)."""
