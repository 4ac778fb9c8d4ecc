import uuid

from django.db import migrations, models

import sandbox.models


def give_each_message_a_record(apps, schema_editor):
    SandboxMessage = apps.get_model("sandbox", "SandboxMessage")
    for message in SandboxMessage.objects.filter(dr_sid__isnull=True).iterator():
        final = message.status in ("delivered", "failed", "received")
        SandboxMessage.objects.filter(pk=message.pk).update(
            dr_sid=str(uuid.uuid4()),
            date_sent=message.date_created if message.status != "queued" else None,
            date_stop=(message.date_status_changed or message.date_created) if final else None,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("sandbox", "0004_mms"),
    ]

    operations = [
        migrations.AddField(
            model_name="sandboxmessage",
            name="dr_sid",
            field=models.CharField(max_length=36, null=True),
        ),
        migrations.AddField(
            model_name="sandboxmessage",
            name="date_sent",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="sandboxmessage",
            name="date_stop",
            field=models.DateTimeField(blank=True, db_index=True, null=True),
        ),
        migrations.AddField(
            model_name="sandboxmessage",
            name="vendor_error_code",
            field=models.CharField(blank=True, max_length=10, null=True),
        ),
        migrations.RunPython(give_each_message_a_record, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="sandboxmessage",
            name="dr_sid",
            field=models.CharField(default=sandbox.models.new_sid, max_length=36, unique=True),
        ),
        migrations.AddIndex(
            model_name="sandboxmessage",
            index=models.Index(fields=["date_created", "id"], name="sandbox_message_inserted"),
        ),
    ]
