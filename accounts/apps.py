from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def _ensure_role_groups(**kwargs: object) -> None:
    # Permissions are created in post_migrate too, so groups are set after them, each migrate.
    from accounts.roles import ensure_role_groups

    ensure_role_groups()


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts: roles and people"

    def ready(self) -> None:
        # This app has no models, so Django sends it no post_migrate of its own. The roles
        # grant the permissions of ingestion and insights; insights comes after ingestion in
        # INSTALLED_APPS, so its signal is sent when both apps' permissions exist.
        post_migrate.connect(
            _ensure_role_groups,
            sender=apps.get_app_config("insights"),
            dispatch_uid="feedlens_role_groups",
        )
