"""The housekeeping sweeps find due work in a batch: overdue webhook deliveries and lapsed leases, longest waiting
first, and versions whose checks never finished."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dam.models import AssetVersion, ChecksState, WebhookDelivery, WebhookEndpoint
from dam.services.checks import version_checks_stale
from dam.services.webhooks import webhook_deliveries_due
from tests.factories import make_asset

pytestmark = pytest.mark.django_db


def _delivery(endpoint: WebhookEndpoint, *, status: str, waited_minutes: int, lease_minutes: int | None = None):
    now = timezone.now()
    return WebhookDelivery.unscoped.create(
        tenant_id=endpoint.tenant_id,
        endpoint=endpoint,
        event="asset.approved",
        payload={},
        status=status,
        next_attempt_at=now - dt.timedelta(minutes=waited_minutes),
        lease_until=None if lease_minutes is None else now + dt.timedelta(minutes=lease_minutes),
    ).pk


def test_the_webhook_sweep_takes_overdue_and_lapsed_deliveries_longest_waiting_first_in_one_batch(alice, charlie):
    ours = WebhookEndpoint.unscoped.create(
        tenant=alice.tenant, url="https://a.example/hook", secret_encrypted="x", events=[]
    )
    theirs = WebhookEndpoint.unscoped.create(
        tenant=charlie.tenant, url="https://c.example/hook", secret_encrypted="x", events=[]
    )
    lapsed_long_ago = _delivery(ours, status="sending", waited_minutes=50, lease_minutes=-5)
    overdue = _delivery(theirs, status="pending", waited_minutes=40)  # housekeeping: every tenant's
    lapsed = _delivery(ours, status="sending", waited_minutes=30, lease_minutes=-1)
    overdue_just = _delivery(ours, status="pending", waited_minutes=2)
    _delivery(ours, status="pending", waited_minutes=0)  # due now: its own message is on the way
    _delivery(ours, status="pending", waited_minutes=-10)  # a retry later
    _delivery(ours, status="sending", waited_minutes=45, lease_minutes=3)  # a worker holds it
    _delivery(ours, status="succeeded", waited_minutes=60)
    _delivery(ours, status="failed", waited_minutes=60)

    with CaptureQueriesContext(connection) as queries:
        assert webhook_deliveries_due() == [lapsed_long_ago, overdue, lapsed, overdue_just]
    assert len(queries) == 1
    assert webhook_deliveries_due(limit=3) == [lapsed_long_ago, overdue, lapsed]
    assert webhook_deliveries_due(limit=1) == [lapsed_long_ago]


def test_the_checks_sweep_takes_versions_pending_past_the_limit_oldest_first(alice):
    versions = [make_asset(alice.tenant, title=f"v{i}", colour=(i, 1, 1)).current_version for i in range(4)]
    rows = AssetVersion.unscoped.filter(pk__in=[v.pk for v in versions])
    rows.update(checks_state=ChecksState.DONE)
    hours_ago = timezone.now() - dt.timedelta(hours=3)
    stale = [versions[0].pk, versions[2].pk]
    AssetVersion.unscoped.filter(pk__in=stale).update(checks_state=ChecksState.PENDING, created_at=hours_ago)
    AssetVersion.unscoped.filter(pk=versions[3].pk).update(checks_state=ChecksState.PENDING)  # still in time
    AssetVersion.unscoped.filter(pk=versions[1].pk).update(created_at=hours_ago)  # old, but done
    assert version_checks_stale() == stale
    assert version_checks_stale(limit=1) == stale[:1]


def test_the_checks_sweep_counts_a_run_again_from_when_it_was_asked_for(alice):
    """An old version whose checks were asked for again a moment ago is not stale (the sweep would queue it a second
    time while the first run waits its turn); one asked for again long ago and still pending is."""
    old, forgotten = (make_asset(alice.tenant, title=f"r{i}", colour=(i, 2, 2)).current_version for i in range(2))
    long_ago = timezone.now() - dt.timedelta(hours=3)
    AssetVersion.unscoped.filter(pk__in=[old.pk, forgotten.pk]).update(
        checks_state=ChecksState.PENDING, created_at=long_ago - dt.timedelta(days=30)
    )
    AssetVersion.unscoped.filter(pk=old.pk).update(checks_requested_at=timezone.now())
    AssetVersion.unscoped.filter(pk=forgotten.pk).update(checks_requested_at=long_ago)
    assert version_checks_stale() == [forgotten.pk]
