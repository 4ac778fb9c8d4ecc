from __future__ import annotations

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0010_rename_callbackevent_carrierevent"),
        ("numbers", "0003_sync_status"),
    ]

    operations = [
        migrations.CreateModel(
            name="SendingDefaults",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "default_did",
                    models.ForeignKey(
                        blank=True,
                        help_text=(
                            "Preselected on Messaging for people without a default DID of their "
                            "own."
                        ),
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="numbers.did",
                        verbose_name="default From DID",
                    ),
                ),
            ],
            options={
                "verbose_name": "sending defaults",
                "verbose_name_plural": "sending defaults",
            },
        ),
    ]
