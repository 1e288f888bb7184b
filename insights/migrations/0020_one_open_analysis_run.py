from django.db import migrations, models
from django.utils import timezone

OPEN = ("queued", "running")


def close_all_but_the_newest_open_run(apps, schema_editor):
    """Two runs left open by an earlier version would break the index: the newest stays."""
    runs = apps.get_model("insights", "AnalysisRun").objects.filter(status__in=OPEN)
    newest = runs.order_by("-created_at", "-pk").first()
    if newest is not None:
        runs.exclude(pk=newest.pk).update(
            status="failed",
            error=f"Closed on upgrade: one run at a time now, and run {newest.pk} is newer.",
            finished_at=timezone.now(),
            lease_expires_at=None,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0019_report_project"),
    ]

    operations = [
        migrations.RunPython(close_all_but_the_newest_open_run, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="analysisrun",
            constraint=models.UniqueConstraint(
                models.Value(True),
                condition=models.Q(("status__in", OPEN)),
                name="one_open_analysis_run",
            ),
        ),
    ]
