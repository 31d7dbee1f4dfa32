"""Budgets page: an admin sets budgets (tenant-wide and per API key) through `budget_set` (audited) and
sees this month's charged, held and remaining amounts; errors are shown per field; a viewer gets 403 and
changes nothing; another tenant's budgets are never shown."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from governance.models import AuditEvent, Budget
from governance.services.budgets import budget_hold, budget_set
from tenants.audit import Actor

pytestmark = pytest.mark.django_db

BUDGETS = "/admin/governance/budgets/"
FORM = {
    "api_key": "",
    "monthly_limit_usd": "250.00",
    "alert_threshold_percent": "75",
    "hard_stop": "on",
    "active": "on",
}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_admin_sets_budgets_through_the_page_and_sees_the_month(alice):
    client = _client(alice.user)
    assert client.post(BUDGETS, FORM).status_code == 302
    key_form = {**FORM, "api_key": str(alice.api_key.pk), "monthly_limit_usd": "40", "hard_stop": ""}
    assert client.post(BUDGETS, key_form).status_code == 302
    tenant_budget = Budget.objects.for_tenant(alice.tenant).get(api_key__isnull=True)
    key_budget = Budget.objects.for_tenant(alice.tenant).get(api_key=alice.api_key)
    assert (tenant_budget.monthly_limit_usd, tenant_budget.alert_threshold_percent, tenant_budget.hard_stop) == (
        Decimal("250.00"),
        75,
        True,
    )
    assert (key_budget.monthly_limit_usd, key_budget.hard_stop) == (Decimal("40.00"), False)
    events = AuditEvent.objects.for_tenant(alice.tenant).filter(action="budget.created", actor_label="user:alice")
    assert events.count() == 2
    # Changing the tenant's budget updates the same row (one per scope), audited as an update.
    assert client.post(BUDGETS, {**FORM, "monthly_limit_usd": "300"}).status_code == 302
    assert Budget.objects.for_tenant(alice.tenant).count() == 2
    assert AuditEvent.objects.for_tenant(alice.tenant).filter(action="budget.updated").exists()
    budget_hold(tenant=alice.tenant, job_id=987654, amount=Decimal("12.50"))
    page = client.get(BUDGETS)
    assert page.status_code == 200
    status = next(row["status"] for row in page.context["rows"] if row["budget"].api_key_id is None)
    assert (status.held_usd, status.remaining_usd) == (Decimal("12.50"), Decimal("287.50"))
    html = page.content.decode()
    assert "$287.50" in html and "$12.50" in html and "alice-admin" in html
    edit = client.get(BUDGETS, {"edit": key_budget.pk})
    assert edit.context["form"]["monthly_limit_usd"] == "40.00"


def test_invalid_values_are_shown_per_field_and_save_nothing(alice, charlie):
    client = _client(alice.user)
    bad = client.post(BUDGETS, {**FORM, "monthly_limit_usd": "lots", "alert_threshold_percent": "150"})
    assert bad.status_code == 400
    assert set(bad.context["errors"]) == {"monthly_limit_usd"}
    refused = client.post(BUDGETS, {**FORM, "alert_threshold_percent": "150"})
    assert refused.status_code == 400 and "alert_threshold_percent" in refused.context["errors"]
    cents = client.post(BUDGETS, {**FORM, "monthly_limit_usd": "10.001"})
    assert cents.status_code == 400 and "monthly_limit_usd" in cents.context["errors"]
    foreign_key = client.post(BUDGETS, {**FORM, "api_key": str(charlie.api_key.pk)})
    assert foreign_key.status_code == 400 and "api_key" in foreign_key.context["errors"]
    assert not Budget.objects.for_tenant(alice.tenant).exists()
    assert not Budget.objects.for_tenant(charlie.tenant).exists()
    assert not AuditEvent.objects.for_tenant(alice.tenant).filter(action__startswith="budget.").exists()


def test_a_viewer_gets_403_and_changes_nothing(alice, bob):
    client = _client(bob.user)
    assert client.get(BUDGETS).status_code == 403
    assert client.post(BUDGETS, FORM).status_code == 403
    assert not Budget.objects.for_tenant(alice.tenant).exists()


def test_another_tenant_sees_none_of_the_budgets(alice, charlie):
    budget_set(tenant=alice.tenant, actor=Actor.for_user(alice.user), monthly_limit_usd=Decimal("4321.00"))
    budget_set(
        tenant=alice.tenant, actor=Actor.for_user(alice.user), api_key=alice.api_key, monthly_limit_usd=Decimal("77")
    )
    page = _client(charlie.user).get(BUDGETS)
    assert page.status_code == 200 and page.context["rows"] == []
    html = page.content.decode()
    assert "4,321" not in html and "4321" not in html and "alice-admin" not in html
    assert [key.pk for key in page.context["api_keys"]] == [charlie.api_key.pk]
