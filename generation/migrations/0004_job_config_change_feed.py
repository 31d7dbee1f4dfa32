"""NOTIFY `dam_jobs` with the tenant id when what a job's run reads before its call changes: the
tenant's deployments and its library settings (see tenants.change_feed, generation.selectors.deployments)."""

from django.db import migrations

TABLES = ("generation_deployment", "dam_librarysettings")

FORWARD = """
CREATE FUNCTION dam_notify_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('dam_jobs', '');  -- every tenant
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('dam_jobs', OLD.tenant_id::text);
    ELSE
        PERFORM pg_notify('dam_jobs', NEW.tenant_id::text);
        IF TG_OP = 'UPDATE' AND OLD.tenant_id IS DISTINCT FROM NEW.tenant_id THEN
            PERFORM pg_notify('dam_jobs', OLD.tenant_id::text);
        END IF;
    END IF;
    RETURN NULL;
END $$;
""" + "".join(
    f"CREATE TRIGGER {table}_notify_jobs AFTER INSERT OR UPDATE OR DELETE ON {table} "
    "FOR EACH ROW EXECUTE FUNCTION dam_notify_jobs();\n"
    f"CREATE TRIGGER {table}_truncate_notify_jobs AFTER TRUNCATE ON {table} "
    "FOR EACH STATEMENT EXECUTE FUNCTION dam_notify_jobs();\n"
    for table in TABLES
)

BACKWARD = "".join(
    f"DROP TRIGGER {table}_notify_jobs ON {table};\nDROP TRIGGER {table}_truncate_notify_jobs ON {table};\n"
    for table in TABLES
) + ("DROP FUNCTION dam_notify_jobs();\n")


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0003_job_safety_config_and_verdicts"),
        ("dam", "0007_change_feed_triggers"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
