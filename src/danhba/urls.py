from django.urls import include, path

from danhba.api import api

urlpatterns = [
    path("", include("danhba.analytics.urls")),
    path("", include("danhba.accounts.urls")),
    path("contacts/", include("danhba.contacts.urls")),
    path("settings/sources/", include("danhba.tracking.urls")),
    path("settings/event-retention/", include("danhba.tracking.retention_urls")),
    path("settings/webhooks/", include("danhba.webhooks.urls")),
    path("settings/", include("danhba.contacts.settings_urls")),
    path("privacy/audit/", include("danhba.audit.urls")),
    path("privacy/", include("danhba.privacy.urls")),
    path("imports/", include("danhba.ingest.urls")),
    path("events/", include("danhba.tracking.explorer_urls")),
    path("segments/", include("danhba.segments.urls")),
    path("", include("danhba.orders.urls")),  # /orders/, /products/
    path("api/", api.urls),
    path("v1/", include("danhba.tracking.urls_v1")),
]
