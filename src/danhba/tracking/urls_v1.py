"""The Segment-compatible event API, mounted at /v1/ (where the SDKs post, not under /api/)."""

from django.urls import path

from danhba.tracking.event_views import endpoint

app_name = "tracking_v1"
urlpatterns = [
    path(kind, endpoint(None if kind == "batch" else kind), name=kind)
    for kind in ("identify", "track", "page", "screen", "group", "alias", "batch")
]
