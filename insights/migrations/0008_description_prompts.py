# Each theme records the prompt version and the prompt text of its name and of its summary
# (one prompt version for both before). Themes described before have no name prompt
# version, so the next analysis run describes them again, recording their prompts.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('insights', '0007_job_leases'),
    ]

    operations = [
        migrations.RenameField(
            model_name='theme',
            old_name='prompt_version',
            new_name='summary_prompt_version',
        ),
        migrations.AddField(
            model_name='theme',
            name='name_prompt_version',
            field=models.CharField(blank=True, max_length=40),
        ),
        migrations.AddField(
            model_name='theme',
            name='name_prompt',
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name='theme',
            name='summary_prompt',
            field=models.TextField(blank=True),
        ),
    ]
