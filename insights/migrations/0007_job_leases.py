# Analysis runs, copy drafts and reports become feedlens.jobs.Job rows: the lease of the
# worker on each (heartbeat, expiry, the claim's token and task, the number of claims), and
# a start time for drafts and reports. Rows left running before this have no lease, which
# counts as expired: the next beat tick hands them out again.

from django.db import migrations, models

JOB_MODELS = ("analysisrun", "copydraft", "report")


def lease_fields(model_name: str) -> list[migrations.AddField]:
    return [
        migrations.AddField(
            model_name=model_name,
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name=model_name,
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name=model_name,
            name="lease_expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name=model_name,
            name="lease_token",
            field=models.CharField(blank=True, editable=False, max_length=32),
        ),
        migrations.AddField(
            model_name=model_name,
            name="task_id",
            field=models.CharField(blank=True, editable=False, max_length=255),
        ),
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0006_sentiment_effective_label"),
    ]

    operations = [
        *(operation for model_name in JOB_MODELS for operation in lease_fields(model_name)),
        migrations.AddField(
            model_name="copydraft",
            name="started_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="report",
            name="started_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
