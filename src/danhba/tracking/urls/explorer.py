from django.urls import path

from danhba.tracking.views import explorer as explorer_views

app_name = "events"
urlpatterns = [
    path("", explorer_views.explorer, name="explorer"),
    path("people.csv", explorer_views.people_export, name="people_export"),
]
