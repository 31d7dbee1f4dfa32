"""Cost dashboard and audit viewer in the staff UI: the service figures, CSV and JSON Lines exports that
verify, and nothing of another tenant; roles as the nav says (costs:read, admin)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from governance.periods import month_of
from governance.selectors.reports import spend_total
from governance.services.audit import audit_verify_export
from governance.services.budgets import budget_set
from governance.services.ledger import ledger_charge_response
from tenants.audit import Actor
from tenants.services import brand_policy_update

pytestmark = pytest.mark.django_db

COSTS = "/admin/governance/costs/"
AUDIT = "/admin/governance/audit/"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _charge(tenant, request_id: str, output_tokens: int = 7024):
    return ledger_charge_response(
        tenant=tenant,
        job_id=1,
        provider_request_id=request_id,
        usage={"output_tokens": output_tokens},
        occurred_at=timezone.now(),
    )


def test_the_cost_dashboard_shows_month_to_date_spend_against_the_budget_and_exports_csv(alice, bob, charlie):
    _charge(alice.tenant, "req-a1")
    _charge(alice.tenant, "req-a2", output_tokens=1000)
    _charge(charlie.tenant, "req-b1", output_tokens=50_000)
    budget_set(tenant=alice.tenant, actor=Actor.for_user(alice.user), monthly_limit_usd=Decimal("25"))
    today = timezone.localdate()
    expected = spend_total(tenant=alice.tenant, start=month_of(timezone.now(), alice.tenant.time_zone), end=today)
    assert expected > 0
    page = _client(bob.user).get(COSTS)  # a viewer reads costs (costs:read)
    assert page.status_code == 200
    assert Decimal(page.context["total"]) == expected
    assert page.context["budget"]["status"].limit_usd == Decimal("25")
    assert pytest.approx(sum(page.context["chart"]["daily"])) == float(expected)
    assert page.context["chart"]["budget"] == 25.0
    assert "chart.umd.min.js" in page.content.decode()
    export = _client(bob.user).get(COSTS, {"export": "day"})
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert sum(Decimal(r["amount_usd"]) for r in rows) == expected
    # Tenant B sees its own spend only.
    other = _client(charlie.user).get(COSTS)
    assert Decimal(other.context["total"]) == spend_total(
        tenant=charlie.tenant, start=month_of(timezone.now(), charlie.tenant.time_zone), end=today
    )
    assert other.context["total"] != expected and other.context["budget"] is None


def test_the_estimator_compares_routings_side_by_side(alice):
    response = _client(alice.user).post(
        f"{COSTS}estimate/", {"images_per_month": "1000", "locales": "2", "quality": "high", "routing": "auto, xlimage"}
    )
    assert response.status_code == 200
    options = response.context["estimate"]["options"]
    assert [o["routing"] for o in options] == ["auto", "tier:xlimage"]
    assert sum(o["is_cheapest"] for o in options) == 1
    bad = _client(alice.user).post(f"{COSTS}estimate/", {"routing": "nonsense"})
    assert bad.status_code == 400 and "routing" in bad.content.decode()


def test_the_audit_viewer_filters_verifies_the_chain_and_exports_json_lines(alice, charlie):
    brand_policy_update(tenant=alice.tenant, created_by=alice.user, style_guide="Soft daylight")
    brand_policy_update(tenant=charlie.tenant, created_by=charlie.user, style_guide="B-only secret")
    client = _client(alice.user)
    page = client.get(AUDIT)
    assert page.status_code == 200 and page.context["chain"].ok
    html = page.content.decode()
    assert "policy.updated" in html and "Chain verified" in html and "B-only secret" not in html
    filtered = client.get(AUDIT, {"action": "policy.updated", "actor": "user:alice"})
    assert [e["event"].action for e in filtered.context["rows"]] == ["policy.updated"]
    assert client.get(AUDIT, {"action": "policy.updated", "actor": "user:nobody"}).context["rows"] == []
    export = client.get(AUDIT, {"export": "jsonl"})
    lines = export.content.decode().splitlines()
    report = audit_verify_export(lines)
    assert report.ok and report.events == page.context["chain"].events
    assert "B-only secret" not in export.content.decode()


def test_the_audit_viewer_is_for_admins_only(alice, bob):
    assert _client(bob.user).get(AUDIT).status_code == 403
    assert _client(bob.user).get(AUDIT, {"export": "jsonl"}).status_code == 403
