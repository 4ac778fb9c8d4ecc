from __future__ import annotations

from django.db import migrations

from portal.roles import ROLE_PERMISSIONS, ensure_roles


def create_roles(apps, schema_editor):
    # Permissions are normally created after migrate; the roles need theirs now.
    ensure_roles(
        apps.get_model("auth", "Group"),
        apps.get_model("auth", "Permission"),
        apps.get_model("contenttypes", "ContentType"),
    )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("messaging", "0001_initial"),
        ("numbers", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
