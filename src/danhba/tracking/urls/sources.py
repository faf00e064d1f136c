from django.urls import path

from danhba.tracking.views import sources as views

app_name = "tracking"
urlpatterns = [
    path("", views.source_list, name="source_list"),
    path("new/", views.source_create, name="source_create"),
    path("<int:pk>/disable/", views.source_disable, name="source_disable"),
]
