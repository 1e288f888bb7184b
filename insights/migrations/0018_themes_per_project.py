"""Themes belong to a project: existing ones to the project their items' sources are in
(the default project made by ingestion 0009, the only one there is yet)."""

import django.db.models.deletion
from django.db import migrations, models

import ingestion.models


def put_themes_in_the_project(apps, schema_editor):  # noqa: ANN001, ARG001
    Project = apps.get_model("ingestion", "Project")
    Theme = apps.get_model("insights", "Theme")
    if Theme.objects.exists():
        project = Project.objects.order_by("pk").first()
        if project is None:
            project = Project.objects.create(name="Default project")
        Theme.objects.update(project=project)


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0009_projects"),
        ("insights", "0017_item_sentiment_feature_logits"),
    ]

    operations = [
        migrations.AddField(
            model_name="theme",
            name="project",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="themes",
                to="ingestion.project",
            ),
        ),
        migrations.RunPython(put_themes_in_the_project, migrations.RunPython.noop),
        # Not null, then the default: a callable default on the first step would be called
        # with today's models while migrating (on an empty database it would make a project).
        migrations.AlterField(
            model_name="theme",
            name="project",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="themes",
                to="ingestion.project",
            ),
        ),
        migrations.AlterField(
            model_name="theme",
            name="project",
            field=models.ForeignKey(
                default=ingestion.models.default_project_id,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="themes",
                to="ingestion.project",
            ),
        ),
    ]
