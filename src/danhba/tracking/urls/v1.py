"""The Segment-compatible event API, mounted at /v1/ (where the SDKs post, not under /api/),
with what browsers load from the same host: the tracking script and the pixel."""

from django.urls import path

from danhba.tracking.views import browser as browser_views
from danhba.tracking.views.events import endpoint

app_name = "tracking_v1"
urlpatterns = [
    path(kind, endpoint(None if kind == "batch" else kind), name=kind)
    for kind in ("identify", "track", "page", "screen", "group", "alias", "batch")
] + [
    path("danhba.js", browser_views.script, name="script"),
    path("pixel.gif", browser_views.pixel, name="pixel"),
]
