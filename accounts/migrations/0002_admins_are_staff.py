"""Admin-role people open Django's admin: accounts.people.set_role now sets is_staff with the
role; this gives it to those who had the role before."""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

ADMIN = "Admin"  # accounts.roles.ADMIN, as it was when this migration was written


def admins_are_staff(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    User = apps.get_model("auth", "User")
    User.objects.filter(groups__name=ADMIN).update(is_staff=True)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_sent_mail"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(admins_are_staff, migrations.RunPython.noop)]
