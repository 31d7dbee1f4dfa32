"""Celery tasks of governance: thin wrappers over services."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings


@shared_task(name="governance.reconcile_budget_holds", time_limit=300, soft_time_limit=270)
def reconcile_budget_holds() -> dict[str, int]:
    from governance.services.budgets import budget_holds_reconcile

    report = budget_holds_reconcile(older_than=dt.timedelta(seconds=settings.BUDGET_HOLD_RECONCILE_AFTER_SECONDS))
    return {"settled": len(report.settled), "released": len(report.released), "active": report.active}
