from django.db import migrations


class Migration(migrations.Migration):
    """CallbackEvent → CarrierEvent: what the carrier sent us ("callback URL" stays the numbers
    app's word). The table keeps its name, so no data moves: naming it explicitly first makes
    the rename a change of state only."""

    dependencies = [("messaging", "0009_repair_stored_callbacks")]

    operations = [
        migrations.AlterModelTable(name="callbackevent", table="messaging_callbackevent"),
        migrations.RenameModel(old_name="CallbackEvent", new_name="CarrierEvent"),
    ]
