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
        # The roles grant the permissions of the apps before this one in INSTALLED_APPS
        # (ingestion, insights, alerts, axes): this app's signal comes after theirs exist.
        post_migrate.connect(
            _ensure_role_groups,
            sender=apps.get_app_config("accounts"),
            dispatch_uid="feedlens_role_groups",
        )
