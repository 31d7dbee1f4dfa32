"""An API key records the key it was minted with (four-eyes follows key-minted-by-key chains).

The backfill of existing keys' issuing key and person from the audit trail is governance's
0005_backfill_api_key_issuers (the trail is governance's; tenants does not read it).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0003_change_feed_triggers"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="created_by_key",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="tenants.apikey",
            ),
        ),
    ]
