from django.urls import path

from danhba.contacts.views import settings as views

app_name = "settings"
urlpatterns = [
    path("", views.index, name="index"),
    path("fields/new/", views.field_create, name="field_create"),
    path("fields/<int:pk>/", views.field_edit, name="field_edit"),
    path("fields/<int:pk>/retire/", views.field_retire, name="field_retire"),
    path("tags/new/", views.tag_create, name="tag_create"),
    path("tags/<int:pk>/", views.tag_edit, name="tag_edit"),
    path("tags/<int:pk>/delete/", views.tag_delete, name="tag_delete"),
    # stages, buyer-roles, purposes
    path("<slug:kind>/new/", views.choice_create, name="choice_create"),
    path("<slug:kind>/<int:pk>/", views.choice_edit, name="choice_edit"),
    path("<slug:kind>/<int:pk>/delete/", views.choice_delete, name="choice_delete"),
]
