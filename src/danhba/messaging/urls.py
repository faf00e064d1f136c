from django.urls import path

from danhba.messaging import views

app_name = "messaging"
urlpatterns = [
    path("templates/", views.template_list, name="list"),
    path("templates/new/", views.template_create, name="create"),
    path("templates/preview/", views.preview, name="preview"),
    path("templates/preview/<str:key>/", views.preview_frame, name="frame"),
    path("templates/<int:pk>/", views.template_edit, name="edit"),
    path("templates/<int:pk>/delete/", views.template_delete, name="delete"),
    path("templates/<int:pk>/links/", views.link_check, name="links"),
    path("templates/<int:pk>/test/", views.test_send, name="test"),
]
