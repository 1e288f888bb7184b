from django.urls import path

from insights import views

app_name = "insights"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("feedback/", views.item_list, name="item_list"),
    path("themes/", views.theme_list, name="theme_list"),
    path("analysis/", views.analysis, name="analysis"),
    path("analysis/<int:run_id>/", views.analysis_run, name="analysis_run"),
    path(
        "analysis/<int:run_id>/status.json", views.analysis_run_status, name="analysis_run_status"
    ),
    path("evaluation/", views.evaluation, name="evaluation"),
    path("evaluation/label/", views.evaluation_label, name="evaluation_label"),
]
