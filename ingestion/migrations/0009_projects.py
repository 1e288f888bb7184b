"""Projects: every source belongs to one. Existing sources go into one default project."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

import ingestion.models

DEFAULT_PROJECT_NAME = "Default project"  # ingestion.models.DEFAULT_PROJECT_NAME when made


def put_sources_in_a_project(apps, schema_editor):  # noqa: ANN001, ARG001
    Project = apps.get_model("ingestion", "Project")
    DataSource = apps.get_model("ingestion", "DataSource")
    if DataSource.objects.exists():
        project, _ = Project.objects.get_or_create(name=DEFAULT_PROJECT_NAME)
        DataSource.objects.update(project=project)


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0008_source_rating_scale"),
    ]

    operations = [
        migrations.CreateModel(
            name="Project",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=200, unique=True)),
                (
                    "created_at",
                    models.DateTimeField(default=django.utils.timezone.now, editable=False),
                ),
            ],
            options={
                "ordering": ["name"],
            },
        ),
        migrations.AddField(
            model_name="datasource",
            name="project",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="sources",
                to="ingestion.project",
            ),
        ),
        migrations.RunPython(put_sources_in_a_project, migrations.RunPython.noop),
        # Not null, then the default: a callable default on the first step would be called
        # with today's models while migrating (on an empty database it would make a project).
        migrations.AlterField(
            model_name="datasource",
            name="project",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="sources",
                to="ingestion.project",
            ),
        ),
        migrations.AlterField(
            model_name="datasource",
            name="project",
            field=models.ForeignKey(
                default=ingestion.models.default_project_id,
                help_text="The product this source's feedback is about; themes are found per project.",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="sources",
                to="ingestion.project",
            ),
        ),
    ]
