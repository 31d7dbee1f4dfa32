from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("dam", "0011_exports")]

    operations = [
        migrations.AddField(model_name="asset", name="archived_at", field=models.DateTimeField(blank=True, null=True)),
    ]
