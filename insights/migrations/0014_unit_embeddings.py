"""A long item's units are embedded, so that it is themed unit by unit."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0008_source_rating_scale"),
        ("insights", "0013_items_in_several_themes"),
    ]

    operations = [
        migrations.CreateModel(
            name="UnitEmbedding",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("start", models.PositiveIntegerField()),
                ("end", models.PositiveIntegerField()),
                ("embedding", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="insights.textembedding")),
                ("item", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="units", to="ingestion.feedbackitem")),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("item", "start"), name="one_embedding_per_unit")],
            },
        ),
    ]
