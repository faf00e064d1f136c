from django.urls import path

from danhba.scoring import views

app_name = "scoring"
urlpatterns = [
    path("", views.model_list, name="list"),
    path("new", views.model_create, name="create"),
    path("<int:pk>/", views.model_detail, name="model"),
    path("<int:pk>/recompute", views.model_recompute, name="recompute"),
    path("<int:pk>/delete", views.model_delete, name="delete"),
    path("<int:pk>/rules/new", views.rule_create, name="rule_create"),
    path("rules/<int:pk>/", views.rule_edit, name="rule"),
    path("rules/<int:pk>/delete", views.rule_delete, name="rule_delete"),
    path("contacts/<int:contact_id>/adjust", views.contact_adjust, name="adjust"),
]
