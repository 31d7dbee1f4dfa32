"""Write a tenant's audit trail as JSON Lines, ending with the chain head an outside party can pin."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from governance.services.audit import audit_export_lines
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Export a tenant's audit events (JSON Lines: header, events, chain_head). Verify with audit_verify --file."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--output", "-o", help="file to write (default: stdout)")
        parser.add_argument("--since-seq", type=int, default=0, help="export events after this sequence number")

    def handle(self, *args, tenant: str, output: str | None = None, since_seq: int = 0, **options) -> None:
        found = Tenant.objects.filter(slug=tenant).first()
        if found is None:
            raise CommandError(f"no tenant {tenant!r}")
        if since_seq < 0:
            raise CommandError("--since-seq must be >= 0")
        stream = open(output, "w", encoding="utf-8") if output else sys.stdout  # noqa: SIM115
        try:
            outermost = not connection.in_atomic_block
            with transaction.atomic():
                if outermost:
                    # One snapshot: the events and the head they end at are exported consistently.
                    with connection.cursor() as cursor:
                        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                count = -2
                for line in audit_export_lines(tenant=found, since_seq=since_seq):
                    stream.write(line + "\n")
                    count += 1
        finally:
            if output:
                stream.close()
        if output:
            self.stderr.write(f"wrote {count} events of {tenant} to {output}")
