from django.urls import path

from danhba.automation import views

app_name = "automation"
urlpatterns = [
    path("", views.workflow_list, name="list"),
    path("new/", views.workflow_create, name="create"),
    path("new/condition/", views.draft_condition, name="draft_condition"),
    path("value-input/", views.value_input, name="value_input"),
    path("playbooks/", views.playbook_gallery, name="playbooks"),
    path("playbooks/<slug:key>/install/", views.playbook_install, name="playbook_install"),
    path("<int:pk>/", views.workflow_detail, name="detail"),
    path("<int:pk>/edit/", views.workflow_edit, name="edit"),
    path("<int:pk>/test/", views.workflow_test, name="test"),
    path("<int:pk>/condition/", views.workflow_condition, name="condition"),
    path("<int:pk>/status/", views.workflow_status, name="status"),
    path("<int:pk>/enrol/", views.workflow_enrol, name="enrol"),
    path("enrolments/<int:pk>/", views.enrolment_detail, name="enrolment"),
    path("enrolments/<int:pk>/cancel/", views.enrolment_cancel, name="cancel"),
]
