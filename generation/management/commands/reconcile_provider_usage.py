"""Settle or release provisional charges from the provider's per-request usage export.

    manage.py reconcile_provider_usage --file usage.csv [--format csv|json] [--tenant SLUG] [--covers-until ISO]

The export: Azure Monitor's RequestResponse log as CSV/JSON, OpenAI's usage export, or the emulator's
`GET /_emulator/usage?format=csv`. Without --tenant every tenant's calls are reconciled (an operator's run).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generation.services.reconciliation import provider_usage_reconcile, usage_rows_parse
from tenants.audit import Actor
from tenants.errors import ServiceError
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Settle or release provisional charges (calls of unknown outcome) from the provider's usage export."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--file", required=True, help="the export; - reads standard input")
        parser.add_argument("--format", choices=["csv", "json"], help="default: from the file's extension")
        parser.add_argument("--tenant", help="only this tenant's calls (its slug)")
        parser.add_argument("--covers-until", help="the export holds every billed call up to this ISO time")

    def handle(self, *args, **options) -> None:
        path = options["file"]
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        fmt = options["format"] or ("json" if path.endswith(".json") else "csv")
        tenant = None
        if options["tenant"]:
            tenant = Tenant.objects.filter(slug=options["tenant"]).first()
            if tenant is None:
                raise CommandError(f"no tenant {options['tenant']!r}")
        covers_until = None
        if options["covers_until"]:
            try:
                covers_until = dt.datetime.fromisoformat(options["covers_until"].replace("Z", "+00:00"))
            except ValueError:
                raise CommandError("--covers-until must be an ISO 8601 time") from None
            covers_until = covers_until if covers_until.tzinfo else covers_until.replace(tzinfo=dt.UTC)
        try:
            rows = usage_rows_parse(data=text, format=fmt)
        except ServiceError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{len(rows)} rows with a client request id; reconciling…")
        report = provider_usage_reconcile(
            rows=rows, tenant=tenant, covers_until=covers_until, actor=Actor.system("reconcile_provider_usage")
        )
        self.stdout.write(
            f"declared unknown {report.declared_unknown}, settled {len(report.settled)}, "
            f"released {len(report.released)}, still unknown {len(report.still_unknown)}"
        )
