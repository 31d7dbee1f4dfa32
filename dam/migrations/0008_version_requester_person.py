"""A version records the person who asked for it: the user, or the person behind its API key.

Backfill, for versions already in the library:
- an upload made with an API key recorded no key: its `asset.uploaded` event names the key as the actor;
- the person is the user, else the key's person (governance 0005 filled keys minted with keys from the trail).
Generated versions already carry their job's requester (generation's 0005 fills those that do not).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

UPLOAD_KEYS = """
UPDATE dam_assetversion AS v
SET created_by_key_id = k.id
FROM governance_auditevent AS e
JOIN tenants_apikey AS k ON k.tenant_id = e.tenant_id AND k.id::text = e.actor_id
WHERE e.action = 'asset.uploaded'
  AND e.actor_kind = 'api_key'
  AND e.target_type = 'asset'
  AND e.target_id = v.asset_id::text
  AND e.tenant_id = v.tenant_id
  AND v.number = 1
  AND v.job_id IS NULL
  AND v.created_by_id IS NULL
  AND v.created_by_key_id IS NULL
"""

PERSONS = """
UPDATE dam_assetversion AS v
SET created_by_person_id = COALESCE(
    v.created_by_id, (SELECT k.created_by_id FROM tenants_apikey AS k WHERE k.id = v.created_by_key_id)
)
WHERE v.created_by_person_id IS NULL
  AND (v.created_by_id IS NOT NULL OR v.created_by_key_id IS NOT NULL)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("dam", "0007_change_feed_triggers"),
        ("governance", "0005_backfill_api_key_issuers"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="assetversion",
            name="created_by_person",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunSQL(UPLOAD_KEYS, migrations.RunSQL.noop),
        migrations.RunSQL(PERSONS, migrations.RunSQL.noop),
    ]
