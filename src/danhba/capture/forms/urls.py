from django.urls import path

from danhba.capture.forms import views

app_name = "webforms"
urlpatterns = [
    path("", views.form_list, name="forms"),
    path("new/", views.form_new, name="form_new"),
    path("preview/", views.form_preview, name="form_preview"),
    path("<int:pk>/", views.form_detail, name="form"),
    path("<int:pk>/delete/", views.form_delete, name="form_delete"),
    path("submissions/", views.submission_list, name="submissions"),
    path("submissions/<int:pk>/", views.submission_detail, name="submission"),
    path("submissions/<int:pk>/retry/", views.submission_retry, name="submission_retry"),
]
