"""Create the configured PostgreSQL database if it does not exist yet (first run on a new machine), and refuse
to run on one whose encrypted fields another configuration wrote.

Two checkouts on one machine share the default database (`dam`) but not their development secret
(var/dev-secret-key, from which field encryption is derived) nor their media folder: the second one's
`make run` started, and its jobs failed on the first one's signing keys. Said before anything starts instead.
"""

from __future__ import annotations

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from psycopg import sql

from dam.credentials.keys import stored_keys_readable


class Command(BaseCommand):
    help = "Create the database named by DATABASE_URL if it is missing; stop if its keys cannot be decrypted here."

    def handle(self, *args, **options) -> None:
        db = settings.DATABASES["default"]
        params = {
            "host": db.get("HOST") or None,
            "port": db.get("PORT") or None,
            "user": db.get("USER") or None,
            "password": db.get("PASSWORD") or None,
        }
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
                self.stdout.write(self.style.SUCCESS(f"created database {db['NAME']!r}"))
                return
        self.stdout.write(f"database {db['NAME']!r} exists")
        if "dam_signingkey" in connection.introspection.table_names() and not stored_keys_readable():
            raise CommandError(
                f"database {db['NAME']!r} holds signing keys encrypted with another secret: another checkout or "
                f"configuration set it up (this one's secret is {settings.VAR_DIR}/dev-secret-key unless "
                "SECRET_KEY or FIELD_ENCRYPTION_KEY is set), and its images are in that one's media folder. Run "
                f"that checkout, or give this one its own database: DATABASE_URL=postgres://…/{db['NAME']}_2"
            )
