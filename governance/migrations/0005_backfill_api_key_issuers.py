"""Existing API keys get their issuing key and person back from the audit trail.

A key minted with a key recorded no person: its `api_key.created` event names the minting key as
the actor. That key becomes `created_by_key`, and the person is the minting key's person, resolved
down the chain in id order (a key is always minted after the key that minted it).
"""

from django.db import migrations

ISSUING_KEYS = """
UPDATE tenants_apikey AS k
SET created_by_key_id = issuer.id
FROM governance_auditevent AS e
JOIN tenants_apikey AS issuer ON issuer.tenant_id = e.tenant_id AND issuer.id::text = e.actor_id
WHERE e.action = 'api_key.created'
  AND e.actor_kind = 'api_key'
  AND e.target_type = 'api_key'
  AND e.target_id = k.id::text
  AND e.tenant_id = k.tenant_id
  AND k.created_by_key_id IS NULL
  AND issuer.id < k.id
"""


def persons_down_the_chains(apps, schema_editor):
    ApiKey = apps.get_model("tenants", "ApiKey")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(ISSUING_KEYS)
    person_of: dict[int, int | None] = {}
    for key in ApiKey._default_manager.order_by("id").only("id", "created_by_id", "created_by_key_id").iterator():
        person = key.created_by_id
        if person is None and key.created_by_key_id is not None:
            person = person_of.get(key.created_by_key_id)
            if person is not None:
                ApiKey._default_manager.filter(pk=key.pk).update(created_by_id=person)
        person_of[key.pk] = person


class Migration(migrations.Migration):
    dependencies = [
        ("governance", "0004_daily_spend_by_dimension"),
        ("tenants", "0004_apikey_created_by_key"),
    ]

    operations = [migrations.RunPython(persons_down_the_chains, migrations.RunPython.noop)]
