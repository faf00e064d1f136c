from django.urls import path

from danhba.privacy import views

app_name = "privacy"
urlpatterns = [
    path("contacts/<int:pk>/consent/", views.consent_record, name="consent_record"),
]
