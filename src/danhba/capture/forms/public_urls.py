from django.urls import path

from danhba.capture.forms import public as views

app_name = "webforms_public"
urlpatterns = [
    path("embed.js", views.embed_js, name="embed_js"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("<slug:slug>", views.hosted, name="hosted"),
    path("<slug:slug>/schema", views.schema, name="schema"),
    path("<slug:slug>/submit", views.submit, name="submit"),
]
