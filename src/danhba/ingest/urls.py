from django.urls import path

from danhba.ingest import views

app_name = "ingest"
urlpatterns = [
    path("", views.import_list, name="list"),
    path("new/", views.import_new, name="new"),
    path("<int:pk>/", views.import_detail, name="detail"),
    path("<int:pk>/issues/", views.import_issues, name="issues"),
    path("<int:pk>/errors.csv", views.import_errors_csv, name="errors_csv"),
    path("<int:pk>/cancel/", views.import_cancel, name="cancel"),
    path("<int:pk>/undo/", views.import_undo, name="undo"),
]
