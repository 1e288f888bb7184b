from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_role_groups(**kwargs: object) -> None:
    # Permissions are created in post_migrate too, so groups are set after them, each migrate.
    from feedlens.roles import ensure_role_groups

    ensure_role_groups()


class InsightsConfig(AppConfig):
    name = "insights"
    verbose_name = "Insights: themes and dashboards"

    def ready(self) -> None:
        # Sent for this app after the apps before it (auth, ingestion...), whose permissions
        # exist by then.
        post_migrate.connect(_ensure_role_groups, sender=self, dispatch_uid="feedlens_role_groups")
