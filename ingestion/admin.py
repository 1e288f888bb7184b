from django.contrib import admin

from ingestion.models import DataSource, FeedbackItem, ImportJob


@admin.register(DataSource)
class DataSourceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "item_kind", "enabled", "last_sync_at", "last_sync_status"]
    list_filter = ["kind", "enabled", "last_sync_status"]
    readonly_fields = ["webhook_token_hint", "last_sync_at", "last_sync_status", "last_error"]


@admin.register(FeedbackItem)
class FeedbackItemAdmin(admin.ModelAdmin):
    list_display = ["id", "source", "kind", "created_at", "rating", "short_text"]
    list_filter = ["source", "kind"]
    search_fields = ["text", "external_id", "author_handle"]
    list_select_related = ["source"]
    raw_id_fields = ["import_job"]

    @admin.display(description="text")
    def short_text(self, item: FeedbackItem) -> str:
        return item.text[:80]


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = [
        "original_name",
        "source",
        "status",
        "items_created",
        "duplicates",
        "rows_failed",
    ]
    list_filter = ["status", "source"]
