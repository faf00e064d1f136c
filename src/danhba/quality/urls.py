from django.urls import path

from danhba.quality.views import cleaning, contacts, dashboard, duplicates, merges

app_name = "quality"
urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("refresh", dashboard.dashboard_refresh, name="refresh"),
    path("contacts/<int:pk>/verify", contacts.verify, name="verify"),
    path("contacts/<int:pk>/restore", contacts.restore, name="restore"),
    path("cleaning/", cleaning.job_list, name="cleaning"),
    path("cleaning/new", cleaning.job_create, name="cleaning_create"),
    path("cleaning/<int:pk>/", cleaning.job_detail, name="cleaning_job"),
    path("cleaning/<int:pk>/delete", cleaning.job_delete, name="cleaning_delete"),
    path("cleaning/<int:pk>/start", cleaning.run_start, name="cleaning_start"),
    path("cleaning/runs/<int:pk>/", cleaning.run_detail, name="cleaning_run"),
    path("cleaning/runs/<int:pk>/apply", cleaning.run_apply, name="cleaning_apply"),
    path("cleaning/runs/<int:pk>/cancel", cleaning.run_cancel, name="cleaning_cancel"),
    path("duplicates/", duplicates.duplicate_list, name="duplicates"),
    path("duplicates/settings/", duplicates.duplicate_settings, name="duplicate_settings"),
    path("duplicates/runs", duplicates.duplicate_run, name="duplicate_run"),
    path("duplicates/bulk-merge", duplicates.duplicate_bulk_merge, name="duplicate_bulk_merge"),
    path("duplicates/<int:pk>/", duplicates.duplicate_detail, name="duplicate"),
    path("duplicates/<int:pk>/not-duplicate", duplicates.duplicate_dismiss, name="duplicate_dismiss"),
    path("duplicates/<int:pk>/merge", duplicates.duplicate_merge, name="duplicate_merge"),
    path("merge/", merges.merge_page, name="merge_page"),
    path("merges/", merges.merge_list, name="merges"),
    path("merges/<int:pk>/", merges.merge_detail, name="merge"),
    path("merges/<int:pk>/undo", merges.merge_undo, name="merge_undo"),
    path("merge-settings/", merges.merge_settings, name="settings"),
    path("bulk-merges/<int:pk>/", merges.bulk_detail, name="bulk_merge"),
    path("bulk-merges/<int:pk>/cancel", merges.bulk_cancel, name="bulk_merge_cancel"),
]
