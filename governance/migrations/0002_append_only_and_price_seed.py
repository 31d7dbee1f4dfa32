"""Append-only audit trail and ledger (triggers), and the gpt-image-2 Standard Global price book.

The triggers refuse UPDATE and DELETE of rows and TRUNCATE of the table, for every role: the
application cannot rewrite history, and a superuser must visibly disable the trigger (or use
session_replication_role = replica) to do it, which the hash chain then exposes. One exception:
a TRUNCATE statement that also empties tenants_tenant (Django's `flush`, as the test runner
uses between transactional tests) resets the whole platform rather than rewriting one tenant's
history, and is allowed.
"""

import datetime as dt
from decimal import Decimal

from django.db import migrations

APPEND_ONLY_TABLES = ("governance_auditevent", "governance_ledgerentry")

FUNCTION = """
CREATE OR REPLACE FUNCTION governance_refuse_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_query() ~* '^\\s*truncate\\M.*\\mtenants_tenant\\M' THEN
        RETURN NULL;  -- a whole-platform reset (flush), not a rewrite of history
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""

TRIGGERS = """
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION governance_refuse_rewrite();
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION governance_refuse_rewrite();
"""

DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS {table}_append_only ON {table};
DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};
"""

# Microsoft Foundry, gpt-image-2, Standard Global, USD per 1M tokens (announcement of 2026-04-21).
SEED_PRICES = {
    "text_input": Decimal("5.00"),
    "cached_text_input": Decimal("1.25"),
    "image_input": Decimal("8.00"),
    "cached_image_input": Decimal("2.00"),
    "image_output": Decimal("30.00"),
}
SEED_FROM = dt.datetime(2026, 4, 21, tzinfo=dt.UTC)


def seed_prices(apps, schema_editor):
    Price = apps.get_model("governance", "Price")
    for kind, usd in SEED_PRICES.items():
        Price.objects.get_or_create(
            model="gpt-image-2",
            deployment_tier="standard-global",
            token_kind=kind,
            effective_from=SEED_FROM,
            defaults={"usd_per_million": usd},
        )


def unseed_prices(apps, schema_editor):
    Price = apps.get_model("governance", "Price")
    Price.objects.filter(model="gpt-image-2", deployment_tier="standard-global", effective_from=SEED_FROM).delete()


class Migration(migrations.Migration):
    dependencies = [("governance", "0001_audit_ledger_budgets")]

    operations = [
        migrations.RunSQL(FUNCTION, "DROP FUNCTION IF EXISTS governance_refuse_rewrite() CASCADE;"),
        *[
            migrations.RunSQL(TRIGGERS.format(table=table), DROP_TRIGGERS.format(table=table))
            for table in APPEND_ONLY_TABLES
        ],
        migrations.RunPython(seed_prices, unseed_prices),
    ]
