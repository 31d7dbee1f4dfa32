"""Settle or release the budget holds of jobs that ended without closing them; check the counters."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from governance.services.budgets import budget_holds_reconcile, spend_counters_check
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Close leaked budget holds (jobs finished, failed or gone) and compare spend counters with the ledger."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--older-than-seconds",
            type=int,
            default=settings.BUDGET_HOLD_RECONCILE_AFTER_SECONDS,
            help="only holds at least this old",
        )
        parser.add_argument("--check", action="store_true", help="also check every tenant's counters")

    def handle(self, *args, older_than_seconds: int, check: bool = False, **options) -> None:
        report = budget_holds_reconcile(older_than=dt.timedelta(seconds=older_than_seconds))
        self.stdout.write(
            f"settled {len(report.settled)}, released {len(report.released)}, still running {report.active}"
        )
        if not check:
            return
        problems = [f"{t.slug}: {p}" for t in Tenant.objects.order_by("slug") for p in spend_counters_check(tenant=t)]
        for problem in problems:
            self.stdout.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} counter(s) disagree with the ledger", returncode=1)
        self.stdout.write("counters agree with the ledger")
