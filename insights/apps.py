from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "insights"
    verbose_name = "Insights: themes and dashboards"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from ingestion.signals import items_stored
        from insights.dashboards.daily_counts import count_after_migrate, count_stored_items

        # New items are counted on the dashboards as soon as they are stored.
        items_stored.connect(count_stored_items, dispatch_uid="insights.count_stored_items")
        # An upgraded install's items, once the tables to count them in exist.
        post_migrate.connect(count_after_migrate, sender=self, dispatch_uid="insights.counts")
