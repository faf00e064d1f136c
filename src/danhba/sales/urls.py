from django.urls import path

from danhba.sales import views, views_assignment, views_prices

app_name = "sales"
urlpatterns = [
    path("", views.board, name="board"),
    path("deals/", views.deal_list, name="list"),
    path("deals/new/", views.deal_create, name="create"),
    path("deals/<int:pk>/", views.deal_detail, name="deal"),
    path("deals/<int:pk>/move/", views.deal_move, name="move"),
    path("deals/<int:pk>/edit/", views.deal_edit, name="edit"),
    path("picks/<str:kind>/", views.picks, name="picks"),
    path("deals/<int:pk>/lines/", views_prices.deal_lines, name="deal_lines"),
    path("prices/", views_prices.price_lists, name="price_lists"),
    path("prices/<int:pk>/", views_prices.price_list, name="price_list"),
    path("reports/", views.reports, name="reports"),
    path("today/", views.today, name="today"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/reasons/<int:pk>/toggle/", views.reason_toggle, name="reason_toggle"),
    path("settings/stages/<int:pk>/move/", views.stage_move, name="stage_move"),
    path("settings/pipelines/<int:pk>/order/", views.stages_order, name="stages_order"),
    path("assignment/", views_assignment.assignment_page, name="assignment"),
    path("assignment/rules/<int:pk>/", views_assignment.rule_edit, name="rule_edit"),
    path("assignment/rules/<int:pk>/action/", views_assignment.rule_action, name="rule_action"),
    path("assignment/away/", views_assignment.availability, name="availability"),
    path("assignment/handover/<int:user_id>/", views_assignment.handover_page, name="handover"),
    path("tasks/<int:pk>/done/", views.task_done, name="task_done"),
    path("notices/read/", views.notices_read, name="notices_read"),
    path("calendar/reset/", views.calendar_reset, name="calendar_reset"),
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar"),
]
