from django.urls import path

from danhba.capture.channels import webhooks

app_name = "capture"
urlpatterns = [
    path("hooks/facebook/<str:key>/", webhooks.facebook, name="facebook-hook"),
    path("hooks/zalo/<str:key>/", webhooks.zalo, name="zalo-hook"),
]
