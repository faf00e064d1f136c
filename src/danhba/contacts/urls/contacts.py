from django.urls import path

from danhba.contacts.views import contacts as views
from danhba.contacts.views import exports as export_views

app_name = "contacts"
urlpatterns = [
    path("", views.contact_list, name="list"),
    path("new/", views.contact_create, name="create"),
    path("bulk/", views.contact_bulk, name="bulk"),
    path("export.csv", views.contact_export, name="export"),
    path("export.xlsx", views.contact_export, {"fmt": "xlsx"}, name="export_xlsx"),
    path("export.json", views.contact_export, {"fmt": "json"}, name="export_json"),
    path("export.vcf", views.contact_export, {"fmt": "vcard"}, name="export_vcard"),
    path("exports/", export_views.export_list, name="export_list"),
    path("exports/<int:pk>/", export_views.export_job, name="export_job"),
    path("exports/<int:pk>/cancel/", export_views.export_cancel, name="export_cancel"),
    path("exports/<int:pk>/download/", export_views.export_download, name="export_download"),
    path("<int:pk>/", views.contact_detail, name="detail"),
    path("<int:pk>/sections/<slug:section>/", views.contact_section, name="section"),
    path("<int:pk>/delete/", views.contact_delete, name="delete"),
    path("<int:pk>/activity/", views.contact_activity, name="activity"),
    path("<int:pk>/timeline/", views.contact_timeline, name="timeline"),
    path("<int:pk>/timeline/<int:entry_id>/", views.timeline_entry, name="timeline_entry"),
    path("<int:pk>/timeline/<int:entry_id>/delete/", views.timeline_entry_delete, name="timeline_entry_delete"),
    path("companies/", views.company_list, name="company_list"),
    path("companies/new/", views.company_create, name="company_create"),
    path("companies/export.csv", views.company_export, name="company_export"),
    path("companies/export.xlsx", views.company_export, {"fmt": "xlsx"}, name="company_export_xlsx"),
    path("companies/export.json", views.company_export, {"fmt": "json"}, name="company_export_json"),
    path("companies/<int:pk>/", views.company_detail, name="company_detail"),
    path("companies/<int:pk>/edit/", views.company_edit, name="company_edit"),
    path("companies/<int:pk>/delete/", views.company_delete, name="company_delete"),
]
