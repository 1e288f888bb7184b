"""An item may belong to several themes (one per theme its units were put in).
ThemeAssignment's key was the item; the table is rebuilt with
its own key and its rows copied, since Django cannot change a primary key in place on every
database."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

COPY_ASSIGNMENTS = """
INSERT INTO insights_newthemeassignment
    (item_id, theme_id, similarity, method, assigned_by_id, assigned_at)
SELECT item_id, theme_id, similarity, method, assigned_by_id, assigned_at
FROM insights_themeassignment
"""


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0008_source_rating_scale"),
        ("insights", "0012_item_unit_scores"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="NewThemeAssignment",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("similarity", models.FloatField(default=0.0)),
                ("unit_start", models.PositiveIntegerField(blank=True, null=True)),
                ("unit_end", models.PositiveIntegerField(blank=True, null=True)),
                ("method", models.CharField(choices=[("cluster", "Clustering"), ("nearest", "Nearest theme"), ("person", "Moved by a person")], max_length=20)),
                ("assigned_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("assigned_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                ("item", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="ingestion.feedbackitem")),
                ("theme", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="insights.theme")),
            ],
        ),
        migrations.RunSQL(COPY_ASSIGNMENTS, reverse_sql=migrations.RunSQL.noop),
        migrations.DeleteModel(name="ThemeAssignment"),
        migrations.RenameModel(old_name="NewThemeAssignment", new_name="ThemeAssignment"),
        migrations.AlterField(
            model_name="themeassignment",
            name="assigned_by",
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name="themeassignment",
            name="item",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="theme_assignments", to="ingestion.feedbackitem"),
        ),
        migrations.AlterField(
            model_name="themeassignment",
            name="theme",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="assignments", to="insights.theme"),
        ),
        migrations.AddConstraint(
            model_name="themeassignment",
            constraint=models.UniqueConstraint(fields=("item", "theme"), name="one_assignment_per_theme"),
        ),
        migrations.AddIndex(
            model_name="themeassignment",
            index=models.Index(fields=["theme", "-similarity"], name="assignment_theme_nearest"),
        ),
    ]
