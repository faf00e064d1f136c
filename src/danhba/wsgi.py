import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "danhba.settings")
application = get_wsgi_application()

# Import every view and API route while the web worker starts, before it accepts a request:
# otherwise the first request after a (re)start pays for it (2.7 s on a quiet machine, 5.9 s
# for the first event batches in the ingest benchmark's run under load).
get_resolver().reverse_dict  # noqa: B018
# What is loaded now lives as long as the process: keep it out of the collector's full passes,
# which otherwise walk all of it (about 300,000 objects, 80 ms of CPU on a quiet machine) while
# every thread of the process waits.
gc.freeze()
