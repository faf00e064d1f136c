from django.urls import path

from danhba.tracking.views import retention as retention_views

app_name = "tracking_retention"
urlpatterns = [
    path("", retention_views.retention_list, name="list"),
    path("new/", retention_views.retention_create, name="create"),
    path("<int:pk>/", retention_views.retention_update, name="update"),
    path("<int:pk>/delete/", retention_views.retention_delete, name="delete"),
]
