"""Generated versions (and edits) without a recorded requester take their job's: user, key, person.

Versions written before dam's 0004 recorded no key. The person is the user, else the key's person.
"""

from django.db import migrations

FROM_JOBS = """
UPDATE dam_assetversion AS v
SET created_by_id = COALESCE(v.created_by_id, j.requested_by_id),
    created_by_key_id = COALESCE(v.created_by_key_id, j.requested_by_key_id),
    created_by_person_id = COALESCE(v.created_by_person_id, j.requested_by_id, k.created_by_id)
FROM generation_job AS j
LEFT JOIN tenants_apikey AS k ON k.id = j.requested_by_key_id
WHERE v.job_id = j.id
  AND v.tenant_id = j.tenant_id
  AND (
    (v.created_by_id IS NULL AND j.requested_by_id IS NOT NULL)
    OR (v.created_by_key_id IS NULL AND j.requested_by_key_id IS NOT NULL)
    OR (v.created_by_person_id IS NULL AND COALESCE(j.requested_by_id, k.created_by_id) IS NOT NULL)
  )
"""


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0004_job_config_change_feed"),
        ("dam", "0008_version_requester_person"),
    ]

    operations = [migrations.RunSQL(FROM_JOBS, migrations.RunSQL.noop)]
