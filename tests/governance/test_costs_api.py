"""Cost and audit endpoints: budgets, spend reports, the ledger, the price book, the audit trail."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from governance.models import AuditEvent, Budget
from governance.services.audit import audit_chain_head
from governance.services.budgets import budget_hold
from governance.services.ledger import ledger_charge_response
from tenants.models import Scope
from tests.factories import make_api_key
from tests.support.actors import key_holder
from tests.support.errors import error_message, names_field

pytestmark = pytest.mark.django_db


def key_client(tenant, *scopes):
    return key_holder(tenant, *scopes, name="-".join(scopes)).client()


def charge(tenant, request_id, output_tokens=7024, **extra):
    return ledger_charge_response(
        tenant=tenant,
        job_id=extra.pop("job_id", 1),
        provider_request_id=request_id,
        usage={"output_tokens": output_tokens},
        occurred_at=extra.pop("at", timezone.now()),
        **extra,
    )


def test_an_admin_creates_and_changes_a_budget_and_the_event_names_the_key_request_and_ip(alice):
    api = alice.client()
    created = api.post(
        "/api/v1/budgets",
        {"monthly_limit_usd": "25.00", "alert_threshold_percent": 75},
        format="json",
        HTTP_X_REQUEST_ID="req-budget-1",
        REMOTE_ADDR="198.51.100.7",
    )
    assert created.status_code == 201, created.json()
    assert created["X-Request-Id"] == "req-budget-1"
    body = created.json()
    assert body["monthly_limit_usd"] == "25.00" and Decimal(body["current_month"]["remaining_usd"]) == 25
    assert body["current_month"]["time_zone"] == alice.tenant.time_zone

    event = AuditEvent.objects.for_tenant(alice.tenant).get(action="budget.created")
    assert (event.actor_kind, event.actor_id) == ("api_key", str(alice.api_key.pk))
    assert (event.request_id, event.ip) == ("req-budget-1", "198.51.100.7")
    assert event.payload["after"]["monthly_limit_usd"] == "25.00"

    again = api.post("/api/v1/budgets", {"monthly_limit_usd": "30.00"}, format="json")
    assert again.status_code == 409 and str(body["id"]) in error_message(again, "api_key")
    changed = api.patch(f"/api/v1/budgets/{body['id']}", {"monthly_limit_usd": "40.00"}, format="json")
    assert changed.status_code == 200 and changed.json()["monthly_limit_usd"] == "40.00"
    updated = AuditEvent.objects.for_tenant(alice.tenant).get(action="budget.updated")
    assert updated.request_id and updated.request_id != "req-budget-1"  # the middleware minted one


def test_budget_scopes_read_with_costs_read_change_with_admin(alice):
    budget_id = alice.client().post("/api/v1/budgets", {"monthly_limit_usd": "5.00"}, format="json").json()["id"]
    reader = key_client(alice.tenant, Scope.COSTS_READ)
    assert reader.get("/api/v1/budgets").status_code == 200
    assert reader.get(f"/api/v1/budgets/{budget_id}").status_code == 200
    assert reader.patch(f"/api/v1/budgets/{budget_id}", {"monthly_limit_usd": "9.00"}, format="json").status_code == 403
    assert key_client(alice.tenant, Scope.ASSETS_READ).get("/api/v1/budgets").status_code == 403
    assert Budget.objects.for_tenant(alice.tenant).get().monthly_limit_usd == Decimal("5.00")


def test_a_key_budget_must_name_a_key_of_the_tenant(alice, charlie):
    api = alice.client()
    foreign = api.post("/api/v1/budgets", {"monthly_limit_usd": "5", "api_key": charlie.api_key.pk}, format="json")
    assert foreign.status_code == 400 and names_field(foreign, "api_key")
    own = api.post("/api/v1/budgets", {"monthly_limit_usd": "5", "api_key": alice.api_key.pk}, format="json")
    assert own.status_code == 201 and own.json()["api_key"] == alice.api_key.pk
    negative = api.post("/api/v1/budgets", {"monthly_limit_usd": "-1"}, format="json")
    assert negative.status_code == 400 and names_field(negative, "monthly_limit_usd")


def test_budget_status_shows_this_months_charges_and_holds(alice):
    budget_id = alice.client().post("/api/v1/budgets", {"monthly_limit_usd": "1.00"}, format="json").json()["id"]
    budget_hold(tenant=alice.tenant, job_id=77, amount=Decimal("0.50"))
    charge(alice.tenant, "r-77", job_id=77)
    month = alice.client().get(f"/api/v1/budgets/{budget_id}").json()["current_month"]
    assert (month["charged_usd"], month["held_usd"], month["remaining_usd"]) == (
        "0.2107200000",
        "0.2892800000",
        "0.5000000000",
    )


def test_spend_report_groups_by_model_key_and_day(alice):
    charge(alice.tenant, "r-1", api_key_id=alice.api_key.pk, collection_id=5)
    charge(alice.tenant, "r-2", output_tokens=1000, api_key_id=alice.api_key.pk)
    charge(alice.tenant, "r-3", output_tokens=1000)
    reader = key_client(alice.tenant, Scope.COSTS_READ)
    by_key = reader.get("/api/v1/costs/spend", {"group_by": "api_key"}).json()
    assert Decimal(by_key["total_usd"]) == Decimal("0.27072")
    assert {row["api_key"]: row["amount_usd"] for row in by_key["rows"]} == {
        alice.api_key.pk: "0.2407200000",
        None: "0.0300000000",
    }
    by_collection = reader.get("/api/v1/costs/spend", {"group_by": "collection"}).json()
    assert {row["collection"]: row["entries"] for row in by_collection["rows"]} == {5: 1, None: 2}
    today = reader.get("/api/v1/costs/spend", {"group_by": "day"}).json()["rows"]
    assert len(today) == 1 and today[0]["images"] == 3
    bad = reader.get("/api/v1/costs/spend", {"group_by": "planet"})
    assert bad.status_code == 400 and names_field(bad, "group_by")


def test_ledger_list_filters_and_hides_other_tenants(alice, charlie):
    budget_hold(tenant=alice.tenant, job_id=91, amount=Decimal("1"))
    charge(alice.tenant, "r-91", job_id=91)
    charge(charlie.tenant, "r-92", job_id=92)
    reader = key_client(alice.tenant, Scope.COSTS_READ)
    charges = reader.get("/api/v1/costs/ledger", {"kind": "charge"}).json()["results"]
    assert [(e["kind"], e["job_id"], e["amount_usd"]) for e in charges] == [("charge", 91, "0.2107200000")]
    assert {e["kind"] for e in reader.get("/api/v1/costs/ledger", {"job": 91}).json()["results"]} == {"hold", "charge"}
    assert reader.get("/api/v1/costs/ledger", {"kind": "gift"}).status_code == 400


def test_price_book_lists_the_prices_in_force(alice):
    prices = key_client(alice.tenant, Scope.COSTS_READ).get("/api/v1/costs/prices").json()
    assert prices["usd_per_million"]["image_output"] == "30.0000"
    assert len(prices["history"]) >= 5


def test_audit_api_is_admin_only_paged_and_filtered(alice, bob):
    api = alice.client()
    make_api_key(alice.tenant, Scope.ASSETS_READ, name="shop")
    api.post("/api/v1/budgets", {"monthly_limit_usd": "5.00"}, format="json")
    page = api.get("/api/v1/audit", {"page_size": 2})
    assert page.status_code == 200
    first = page.json()["results"]
    seqs = [e["seq"] for e in first]
    assert seqs == sorted(seqs, reverse=True) and first[0]["action"] == "budget.created"
    rest = api.get(page.json()["next"]).json()["results"]
    assert rest and rest[0]["seq"] == seqs[-1] - 1

    keys = api.get("/api/v1/audit", {"action": "api_key."}).json()["results"]
    assert {e["action"] for e in keys} == {"api_key.created"} and len(keys) >= 3
    mine = api.get("/api/v1/audit", {"actor": f"api_key:{alice.api_key.pk}"}).json()["results"]
    assert [e["action"] for e in mine] == ["budget.created"]
    future = (timezone.now() + dt.timedelta(days=1)).date().isoformat()
    assert api.get("/api/v1/audit", {"since": future}).json()["results"] == []
    assert len(api.get("/api/v1/audit", {"until": future}).json()["results"]) >= 4
    assert api.get("/api/v1/audit", {"since": "yesterday"}).status_code == 400

    head = api.get("/api/v1/audit/head").json()
    assert (head["seq"], head["hash"]) == audit_chain_head(tenant=alice.tenant)
    reader = key_client(alice.tenant, Scope.COSTS_READ)
    assert bob.client().get("/api/v1/audit").status_code == 403
    assert reader.get("/api/v1/audit/head").status_code == 403
