from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts: what changed, found each week"

    def ready(self) -> None:
        from alerts.detection import detect_after_run
        from insights.signals import themes_counted

        themes_counted.connect(detect_after_run, dispatch_uid="alerts.detect_after_run")
