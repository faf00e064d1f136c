from django.urls import path

from danhba.capture.channels import views as channel_views
from danhba.capture.channels import webhooks

app_name = "capture"
urlpatterns = [
    path("hooks/facebook/<str:key>/", webhooks.facebook, name="facebook-hook"),
    path("hooks/zalo/<str:key>/", webhooks.zalo, name="zalo-hook"),
    path("channels/", channel_views.connection_list, name="channels"),
    path("channels/new/<str:kind>/", channel_views.connection_create, name="channel-create"),
    path("channels/<int:pk>/", channel_views.connection_detail, name="channel"),
    path("channels/<int:pk>/edit/", channel_views.connection_edit, name="channel-edit"),
    path("channels/<int:pk>/delete/", channel_views.connection_delete, name="channel-delete"),
    path("channels/<int:pk>/check/", channel_views.connection_check, name="channel-check"),
    path("channels/payloads/", channel_views.payload_list, name="payloads"),
    path("channels/payloads/retry/", channel_views.payloads_retry, name="payloads-retry"),
    path("channels/payloads/<int:pk>/", channel_views.payload_detail, name="payload"),
]
