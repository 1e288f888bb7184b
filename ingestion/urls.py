from django.urls import path

from ingestion import views

app_name = "ingestion"
urlpatterns = [
    path("api/sources/<int:source_id>/items", views.webhook, name="webhook"),
    path("imports/new/", views.upload, name="upload"),
    path("imports/<int:job_id>/mapping/", views.mapping, name="mapping"),
    path("imports/<int:job_id>/", views.import_job, name="import_job"),
    path("imports/<int:job_id>/status.json", views.import_job_status, name="import_job_status"),
    path("admin-area/sources/", views.source_list, name="source_list"),
    path("admin-area/sources/new/", views.source_create, name="source_create"),
    path("admin-area/sources/<int:source_id>/", views.source_edit, name="source_edit"),
    path("admin-area/sources/<int:source_id>/toggle/", views.source_toggle, name="source_toggle"),
    path("admin-area/sources/<int:source_id>/sync/", views.source_sync, name="source_sync"),
    path(
        "admin-area/sources/<int:source_id>/token/",
        views.source_rotate_token,
        name="source_rotate_token",
    ),
]
