from django.urls import include, path

from danhba.api import api

urlpatterns = [
    path("", include("danhba.analytics.urls")),
    path("", include("danhba.accounts.urls")),
    path("contacts/", include("danhba.contacts.urls.contacts")),
    path("settings/sources/", include("danhba.tracking.urls.sources")),
    path("settings/event-retention/", include("danhba.tracking.urls.retention")),
    path("settings/webhooks/", include("danhba.webhooks.urls")),
    path("settings/", include("danhba.contacts.urls.settings")),
    path("privacy/audit/", include("danhba.audit.urls")),
    path("privacy/", include("danhba.privacy.urls")),
    path("imports/", include("danhba.ingest.urls")),
    path("events/", include("danhba.tracking.urls.explorer")),
    path("segments/", include("danhba.segments.urls")),
    path("automation/", include("danhba.automation.urls")),
    path("sales/", include("danhba.sales.urls")),
    path("capture/", include("danhba.capture.urls")),
    path("forms/", include("danhba.capture.forms.urls")),
    path("f/", include("danhba.capture.forms.public_urls")),
    path("email/", include("danhba.messaging.urls")),
    path("scoring/", include("danhba.scoring.urls")),
    path("quality/", include("danhba.quality.urls")),
    path("", include("danhba.orders.urls")),  # /orders/, /products/
    path("api/", api.urls),
    path("v1/", include("danhba.tracking.urls.v1")),
]
