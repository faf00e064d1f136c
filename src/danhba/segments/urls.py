from django.urls import path

from danhba.segments import views

app_name = "segments"
urlpatterns = [
    path("", views.segment_list, name="list"),
    path("new", views.segment_create, name="create"),
    path("builder/preview", views.builder_preview, name="preview"),
    path("builder/tree", views.builder_tree, name="builder"),
    path("builder/event-hints", views.builder_event_hints, name="event_hints"),
    path("<int:pk>/", views.segment_detail, name="detail"),
    path("<int:pk>/edit", views.segment_edit, name="edit"),
    path("<int:pk>/status", views.segment_status, name="status"),
    path("<int:pk>/refresh", views.segment_refresh, name="refresh"),
    path("<int:pk>/snapshot", views.segment_snapshot, name="snapshot"),
    path("<int:pk>/delete", views.segment_delete, name="delete"),
    path("<int:pk>/search", views.list_search, name="search"),
    path("<int:pk>/members/add", views.list_add, name="add"),
    path("<int:pk>/members/remove", views.list_remove, name="remove"),
    path("<int:pk>/members/import", views.list_import, name="import"),
]
