from django.urls import path

from danhba.sales import views

app_name = "sales"
urlpatterns = [
    path("", views.board, name="board"),
    path("deals/", views.deal_list, name="list"),
    path("deals/new/", views.deal_create, name="create"),
    path("deals/<int:pk>/", views.deal_detail, name="deal"),
    path("deals/<int:pk>/move/", views.deal_move, name="move"),
    path("reports/", views.reports, name="reports"),
    path("today/", views.today, name="today"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/reasons/<int:pk>/toggle/", views.reason_toggle, name="reason_toggle"),
    path("tasks/<int:pk>/done/", views.task_done, name="task_done"),
    path("notices/read/", views.notices_read, name="notices_read"),
    path("calendar/reset/", views.calendar_reset, name="calendar_reset"),
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar"),
]
