"""Daily roll-ups keyed by one dimension at a time (total, API key, user, collection, model).

A row per combination of dimensions was close to a row per ledger entry. The roll-ups are derived
data: they are emptied, reshaped and rebuilt from the ledger here.
"""

from django.db import migrations, models

REBUILD = """
INSERT INTO governance_dailyspend
    (tenant_id, day, dimension, key, amount_usd, entries, images, input_tokens, output_tokens)
SELECT e.tenant_id, e.day, d.dimension, d.key, SUM(e.amount_usd), COUNT(*), SUM(e.images),
       SUM(e.text_input_tokens + e.image_input_tokens), SUM(e.output_tokens)
FROM governance_ledgerentry AS e
CROSS JOIN LATERAL (VALUES
    ('total', ''),
    ('api_key', COALESCE(e.api_key_id::text, '')),
    ('user', COALESCE(e.user_id::text, '')),
    ('collection', COALESCE(e.collection_id::text, '')),
    ('model', e.model)
) AS d(dimension, key)
WHERE e.kind IN ('charge', 'adjustment')
GROUP BY e.tenant_id, e.day, d.dimension, d.key
"""


class Migration(migrations.Migration):
    dependencies = [("governance", "0003_safety_config_and_review_decision")]

    operations = [
        migrations.RunSQL("DELETE FROM governance_dailyspend", migrations.RunSQL.noop),
        migrations.RemoveConstraint(model_name="dailyspend", name="daily_spend_unique_cell"),
        migrations.RemoveField(model_name="dailyspend", name="model"),
        migrations.RemoveField(model_name="dailyspend", name="api_key_id"),
        migrations.RemoveField(model_name="dailyspend", name="user_id"),
        migrations.RemoveField(model_name="dailyspend", name="collection_id"),
        migrations.AddField(
            model_name="dailyspend",
            name="dimension",
            field=models.CharField(
                choices=[
                    ("total", "Total"),
                    ("api_key", "API key"),
                    ("user", "User"),
                    ("collection", "Collection"),
                    ("model", "Model"),
                ],
                default="total",
                max_length=16,
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="dailyspend",
            name="key",
            field=models.CharField(blank=True, max_length=64, default=""),
            preserve_default=False,
        ),
        migrations.AddConstraint(
            model_name="dailyspend",
            constraint=models.UniqueConstraint(
                fields=("tenant", "dimension", "day", "key"), name="daily_spend_unique_cell"
            ),
        ),
        migrations.RunSQL(REBUILD, migrations.RunSQL.noop),
    ]
