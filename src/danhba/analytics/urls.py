from django.urls import path

from danhba.analytics import views

app_name = "analytics"
urlpatterns = [
    path("", views.home, name="home"),
]
