"""NOTIFY `dam_auth` when what API-key authentication reads changes (see tenants.change_feed).

`last_used_at` is left out on purpose: it is written on use and says nothing a cache holds.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION dam_notify_auth() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('dam_auth', '');
    RETURN NULL;
END $$;
CREATE TRIGGER tenants_apikey_notify_auth
    AFTER UPDATE OF tenant_id, prefix, secret_hash, scopes, expires_at, revoked_at OR DELETE OR TRUNCATE
    ON tenants_apikey
    FOR EACH STATEMENT EXECUTE FUNCTION dam_notify_auth();
CREATE TRIGGER tenants_tenant_notify_auth
    AFTER UPDATE OR DELETE OR TRUNCATE ON tenants_tenant
    FOR EACH STATEMENT EXECUTE FUNCTION dam_notify_auth();
"""

BACKWARD = """
DROP TRIGGER tenants_tenant_notify_auth ON tenants_tenant;
DROP TRIGGER tenants_apikey_notify_auth ON tenants_apikey;
DROP FUNCTION dam_notify_auth();
"""


class Migration(migrations.Migration):
    dependencies = [("tenants", "0002_brandpolicy_placement")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
