from django.urls import path

from insights.views import (
    analysis,
    copy,
    evaluation,
    items,
    overview,
    reports,
    search,
    themes,
)

app_name = "insights"
urlpatterns = [
    path("", overview.overview, name="overview"),
    path("feedback/", items.item_list, name="item_list"),
    path("feedback/<int:item_id>/", items.item_detail, name="item_detail"),
    path("feedback/<int:item_id>/sentiment/", items.correct_sentiment, name="correct_sentiment"),
    path("feedback/<int:item_id>/theme/", items.move_item, name="move_item"),
    path(
        "feedback/<int:item_id>/theme/<int:theme_id>/sentiment/",
        items.correct_theme_sentiment,
        name="correct_theme_sentiment",
    ),
    path("search/", search.search, name="search"),
    path("themes/", themes.theme_list, name="theme_list"),
    path("themes/<int:theme_id>/", themes.theme_detail, name="theme_detail"),
    path("themes/<int:theme_id>/rename/", themes.rename_theme, name="rename_theme"),
    path("themes/<int:theme_id>/merge/", themes.merge_theme, name="merge_theme"),
    path("themes/<int:theme_id>/status/", themes.set_theme_status, name="set_theme_status"),
    path("copy/", copy.copy_list, name="copy_list"),
    path("copy/<int:draft_id>/", copy.copy_detail, name="copy_detail"),
    path("copy/<int:draft_id>/status.json", copy.copy_status, name="copy_status"),
    path("copy/<int:draft_id>/download.md", copy.copy_download, name="copy_download"),
    path("analysis/", analysis.analysis, name="analysis"),
    path("analysis/<int:run_id>/", analysis.analysis_run, name="analysis_run"),
    path(
        "analysis/<int:run_id>/status.json",
        analysis.analysis_run_status,
        name="analysis_run_status",
    ),
    path("evaluation/", evaluation.evaluation, name="evaluation"),
    path("evaluation/label/", evaluation.evaluation_label, name="evaluation_label"),
    path("reports/", reports.report_list, name="report_list"),
    path("reports/<int:report_id>/", reports.report_detail, name="report_detail"),
    path("reports/<int:report_id>/status.json", reports.report_status, name="report_status"),
    path(
        "reports/<int:report_id>/files/<str:kind>/",
        reports.report_download,
        name="report_download",
    ),
    path("reports/schedules/", reports.schedule_list, name="report_schedules"),
    path("reports/schedules/new/", reports.schedule_edit, name="report_schedule_new"),
    path("reports/schedules/<int:schedule_id>/", reports.schedule_edit, name="report_schedule"),
    path(
        "reports/schedules/<int:schedule_id>/delete/",
        reports.schedule_delete,
        name="report_schedule_delete",
    ),
]
