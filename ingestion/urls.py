from django.urls import path

from ingestion import views

app_name = "ingestion"
urlpatterns = [
    path("api/sources/<int:source_id>/items", views.webhook, name="webhook"),
    path("imports/new/", views.upload, name="upload"),
    path("imports/<int:job_id>/mapping/", views.mapping, name="mapping"),
    path("imports/<int:job_id>/", views.import_job, name="import_job"),
    path("imports/<int:job_id>/status.json", views.import_job_status, name="import_job_status"),
]
