"""NOTIFY `dam_storefront` with the tenant id when anything a storefront page shows changes.

Row-level, but cheap: Postgres folds identical notifications of one transaction into one, so
a job that writes a version and its renditions announces its tenant once (see tenants.change_feed).
"""

from django.db import migrations

TABLES = ("dam_asset", "dam_assetversion", "dam_rendition", "dam_publishwindow", "dam_tenantdelivery", "dam_collection")

FORWARD = """
CREATE FUNCTION dam_notify_storefront() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('dam_storefront', '');  -- every tenant
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('dam_storefront', OLD.tenant_id::text);
    ELSE
        PERFORM pg_notify('dam_storefront', NEW.tenant_id::text);
        IF TG_OP = 'UPDATE' AND OLD.tenant_id IS DISTINCT FROM NEW.tenant_id THEN
            PERFORM pg_notify('dam_storefront', OLD.tenant_id::text);
        END IF;
    END IF;
    RETURN NULL;
END $$;
""" + "".join(
    f"CREATE TRIGGER {table}_notify_storefront AFTER INSERT OR UPDATE OR DELETE ON {table} "
    "FOR EACH ROW EXECUTE FUNCTION dam_notify_storefront();\n"
    f"CREATE TRIGGER {table}_truncate_notify_storefront AFTER TRUNCATE ON {table} "
    "FOR EACH STATEMENT EXECUTE FUNCTION dam_notify_storefront();\n"
    for table in TABLES
)

BACKWARD = "".join(
    f"DROP TRIGGER {table}_notify_storefront ON {table};\nDROP TRIGGER {table}_truncate_notify_storefront ON {table};\n"
    for table in TABLES
) + (
    "DROP FUNCTION dam_notify_storefront();\n"
)


class Migration(migrations.Migration):
    dependencies = [("dam", "0006_upload_source_sha256")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
