"""Deployment pools under real runs against the emulator's pool over HTTP: which failures move a call to another
deployment and which never do, data residency, the breaker, provisional charges and their reconciliation.

Jobs run in this process (`job_run`, the production path a worker takes) with the standing workers kept off the
job queues, so each test controls exactly which run makes which call.
"""

from __future__ import annotations

import io
import socket
import time
from decimal import Decimal

import httpx
import pytest
from django.core.management import call_command
from django.test import Client

from dam.models import WebhookDelivery
from dam.services.webhooks import webhook_endpoint_create
from generation.models import AttemptState, DeploymentPool, Job, PoolMember, ProviderAttempt
from generation.selectors import pools as pool_selectors
from generation.services.capacity import pool_create, pool_member_save, tenant_capacity_set
from generation.services.execution import job_run
from governance.models import AuditEvent, LedgerEntry, SpendCounter
from governance.services.audit import audit_verify
from governance.services.budgets import spend_counters_check
from tenants.audit import Actor
from tests.fixtures.celery_worker import job_queue_consumed_only_by
from tests.fixtures.emulator import API_KEY

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
OPERATOR = Actor.system("test-operator")


@pytest.fixture(autouse=True)
def fresh_routes(settings):
    # Each test's pool is new: no route or dispatcher state of an earlier test may answer for it.
    settings.DISPATCH_KEY_PREFIX = f"{settings.DISPATCH_KEY_PREFIX}:{id(settings)}"
    pool_selectors._routes.clear()
    pool_selectors._dispatcher.cache_clear()
    yield
    pool_selectors._routes.clear()
    pool_selectors._dispatcher.cache_clear()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _pool(emulator, tenant, members: list[dict], *, own: bool = False, **capacity) -> DeploymentPool:
    """A pool of emulator deployments (name, region, data_zone, priority, …), assigned to `tenant`: the platform's,
    or (`own`) the tenant's own (it pays that provider and may reconcile its calls itself)."""
    pool = pool_create(name=f"pool-{tenant.slug}", owner=tenant if own else None, actor=OPERATOR)
    for spec in members:
        member = PoolMember(
            pool=pool,
            name=spec["name"],
            endpoint=spec.get("endpoint", emulator.base_url),
            deployment=spec["name"],
            region=spec.get("region", "swedencentral"),
            data_zone=spec.get("data_zone", ""),
            priority=spec.get("priority", 0),
            rpm=spec.get("rpm", 600),
            read_timeout_seconds=spec.get("read_timeout_seconds", 30),
            max_attempts=2,
        )
        pool_member_save(member=member, actor=OPERATOR, api_key=spec.get("api_key", API_KEY))
    tenant_capacity_set(tenant=tenant, actor=OPERATOR, pool=pool, **capacity)
    pool_selectors._routes.clear()
    return pool


def _submit(persona, prompt: str) -> int:
    response = persona.client().post("/api/v1/jobs", {"prompt": prompt, "quality": "low"}, format="json")
    assert response.status_code == 202, response.content
    return response.json()["id"]


def _calls(emulator) -> dict[str, int]:
    return {name: row["calls"] for name, row in emulator.stats().get("deployments", {}).items()}


def _export_of(emulator, *, job_id: int) -> str:
    """The emulator's usage export (CSV) once it bills every call of the job (a call finishes generating after its
    caller stopped reading; a call of an earlier test may land in it too)."""
    wanted = set(ProviderAttempt.unscoped.filter(job_id=job_id).values_list("client_request_id", flat=True))
    deadline = time.monotonic() + 15
    while True:
        data = httpx.get(f"{emulator.base_url}/_emulator/usage", params={"format": "json"}, timeout=10).json()["data"]
        billed = {row["client_request_id"] for row in data}
        if wanted <= billed or time.monotonic() > deadline:
            assert wanted <= billed, (wanted, data)
            return httpx.get(f"{emulator.base_url}/_emulator/usage", params={"format": "csv"}, timeout=10).text
        time.sleep(0.2)


def _states(job_id: int) -> list[tuple[str, str]]:
    return list(ProviderAttempt.unscoped.filter(job_id=job_id).order_by("id").values_list("deployment", "state"))


@pytest.mark.parametrize("refusal", ["404", "401", "429", "unreachable"])
def test_a_call_refused_before_generating_moves_to_the_next_deployment(alice, clean_emulator, refusal):
    deployments = {"first": {"rpm": 600}, "second": {"rpm": 600}}
    if refusal == "429":  # a throttle with a long retry-after: the dispatcher holds `first`, the call takes `second`
        deployments["first"].update(throttle_burst={"at_call": 1, "count": 5}, retry_after_ms=30_000)
    elif refusal != "unreachable":
        deployments["first"]["down"] = refusal
    clean_emulator.configure(deployments=deployments)
    first = {"name": "first", "priority": 0}
    if refusal == "unreachable":
        first["endpoint"] = f"http://127.0.0.1:{_closed_port()}"
    _pool(clean_emulator, alice.tenant, [first, {"name": "second", "priority": 1}])
    with job_queue_consumed_only_by(set()):
        job_id = _submit(alice, "a lighthouse at dawn")
        outcome = job_run(job_id=job_id, owner="run-1")

    assert outcome.state == "succeeded"
    states = _states(job_id)
    assert [state for _, state in states] == ["refused", "answered"]
    assert states[0][0].endswith("/first") and states[1][0].endswith("/second")
    calls = _calls(clean_emulator)
    assert calls.get("second") == 1 and calls.get("first", 0) == (0 if refusal == "unreachable" else 1)
    charges = LedgerEntry.objects.for_tenant(alice.tenant).filter(job_id=job_id, kind="charge")
    assert charges.count() == 1  # the refusal cost nothing


def test_an_unknown_outcome_is_never_sent_elsewhere_and_becomes_a_provisional_charge(alice, clean_emulator):
    # The first deployment answers after 3 s; our read timeout is 1 s: the call was sent, its answer never read.
    clean_emulator.configure(deployments={"slow": {"latency": 3000}, "spare": {}})
    _pool(
        clean_emulator,
        alice.tenant,
        [{"name": "slow", "priority": 0, "read_timeout_seconds": 1}, {"name": "spare", "priority": 1}],
        retry_unknown_outcome="never",
    )
    with job_queue_consumed_only_by(set()):
        job_id = _submit(alice, "a lighthouse in fog")
        outcome = job_run(job_id=job_id, owner="run-1")

    job = Job.unscoped.get(pk=job_id)
    assert outcome.state == "failed" and job.error_code == "unknown_outcome"
    assert "provisional" in job.error_message
    assert [state for _, state in _states(job_id)] == ["unknown"]
    assert _calls(clean_emulator).get("spare", 0) == 0  # never resent to another deployment
    (provisional,) = LedgerEntry.objects.for_tenant(alice.tenant).filter(job_id=job_id, kind="provisional")
    attempt = ProviderAttempt.unscoped.get(job_id=job_id)
    assert provisional.amount_usd == attempt.planned_cost_usd > 0
    # The scheduler's wait for its slot is kept beside the reason (the fairness benchmark reads it).
    assert isinstance(attempt.detail["queue_wait_ms"], int) and attempt.detail["reason"]
    assert provisional.provider_request_id == attempt.client_request_id
    # The budget counts it: the month's counter holds it as spend until it is reconciled.
    counter = SpendCounter.objects.for_tenant(alice.tenant).get(api_key_id__isnull=True)
    assert counter.charged_usd == provisional.amount_usd
    assert spend_counters_check(tenant=alice.tenant) == []
    assert AuditEvent.objects.for_tenant(alice.tenant).filter(action="provider_call.outcome_unknown").count() == 1

    # The spend report shows it apart from confirmed spend.
    report = alice.client().get("/api/v1/costs/spend").json()
    assert Decimal(report["total_usd"]) == 0
    assert Decimal(report["provisional_usd"]) == provisional.amount_usd and report["provisional_calls"] == 1
    staff = Client()
    staff.force_login(alice.user)
    page = staff.get("/admin/governance/costs/")
    assert page.context["provisional"] == {"amount_usd": provisional.amount_usd, "open_calls": 1}
    assert 'id="spend-provisional"' in page.content.decode()


def test_retry_once_calls_again_after_one_unknown_outcome_and_reconciliation_settles_the_first(alice, clean_emulator):
    clean_emulator.configure(deployments={"slow": {"latency": 2500}})
    _pool(
        clean_emulator,
        alice.tenant,
        [{"name": "slow", "read_timeout_seconds": 1}],
        own=True,
        retry_unknown_outcome="once",
    )
    with job_queue_consumed_only_by(set()):
        job_id = _submit(alice, "a harbour at night")
        first = job_run(job_id=job_id, owner="run-1")
        assert first.state == "queued" and first.retry_in is not None  # back in line, one more call allowed
        clean_emulator.configure(deployments={"slow": {"latency": 0}})
        second = job_run(job_id=job_id, owner="run-2")

    assert second.state == "succeeded"
    assert [state for _, state in _states(job_id)] == ["unknown", "answered"]
    # The provider billed both calls (the first finished generating after we stopped reading).
    export = _export_of(clean_emulator, job_id=job_id)
    response = alice.client().post(
        "/api/v1/provider-usage/reconcile", {"format": "csv", "usage": export}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["settled"] == 1 and response.json()["released"] == 0
    unknown = ProviderAttempt.unscoped.filter(job_id=job_id).order_by("id").first()
    assert unknown.state == AttemptState.SETTLED and unknown.provider_request_id
    entries = LedgerEntry.objects.for_tenant(alice.tenant).filter(job_id=job_id)
    charges = entries.filter(kind="charge")
    assert charges.count() == 2  # every provider answer is one confirmed charge
    provisional = entries.filter(kind__in=["provisional", "provisional_release"])
    assert sum(e.amount_usd for e in provisional) == 0  # the provisional charge is reversed
    assert spend_counters_check(tenant=alice.tenant) == []
    assert audit_verify(tenant=alice.tenant).ok
    # Again: nothing changes.
    again = alice.client().post("/api/v1/provider-usage/reconcile", {"format": "csv", "usage": export}, format="json")
    assert again.json()["settled"] == 0 and entries.count() == len(list(entries))


def test_a_call_absent_from_a_covering_export_is_released(alice, clean_emulator, tmp_path):
    from generation.models import JobGeneration
    from generation.services.attempts import attempt_record

    pool = _pool(clean_emulator, alice.tenant, [{"name": "any"}], own=True)
    clean_emulator.configure(deployments={"any": {}})
    with job_queue_consumed_only_by(set()):
        job_id = _submit(alice, "a harbour at noon")
        job = Job.unscoped.select_related("tenant").get(pk=job_id)
        unit = JobGeneration.unscoped.get(job_id=job_id)
        # A run recorded its call and died before sending it: the job then ended (cancelled).
        attempt_record(job=job, unit=unit, call_id=f"job-{job_id}-never-sent", deployment=f"pool-{pool.pk}/any")
        Job.unscoped.filter(pk=job_id).update(state="cancelled")
    covers = "2999-01-01T00:00:00Z"
    # The operator's command: the export does not cover the call's time yet, so nothing is decided.
    export = tmp_path / "usage.json"
    export.write_text("[]")
    out = io.StringIO()
    call_command("reconcile_provider_usage", file=str(export), tenant=alice.tenant.slug, stdout=out)
    assert "declared unknown 1, settled 0, released 0, still unknown 1" in out.getvalue()
    response = alice.client().post(
        "/api/v1/provider-usage/reconcile", {"format": "json", "usage": "[]", "covers_until": covers}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["declared_unknown"] == 0 and response.json()["released"] == 1
    entries = LedgerEntry.objects.for_tenant(alice.tenant).filter(job_id=job_id)
    assert sorted(entries.values_list("kind", flat=True)) == ["hold", "provisional", "provisional_release"]
    assert AuditEvent.objects.for_tenant(alice.tenant).filter(action="ledger.provisional_released").count() == 1


def test_residency_keeps_every_call_inside_its_zones_even_when_they_fail(alice, clean_emulator):
    clean_emulator.configure(deployments={"us-east": {}, "eu-west": {}})
    _pool(
        clean_emulator,
        alice.tenant,
        [
            {"name": "us-east", "region": "eastus2", "data_zone": "us", "priority": 0},
            {"name": "eu-west", "region": "swedencentral", "data_zone": "eu", "priority": 1},
        ],
        allowed_data_zones=["eu"],
    )
    with job_queue_consumed_only_by(set()):
        ok = [_submit(alice, f"a fjord {i}") for i in range(3)]
        assert [job_run(job_id=job_id, owner=f"r{job_id}").state for job_id in ok] == ["succeeded"] * 3
        clean_emulator.configure(deployments={"eu-west": {"down": "404"}})
        refused = _submit(alice, "a fjord in rain")
        outcome = job_run(job_id=refused, owner="r-refused")

    assert outcome.state in ("queued", "failed")  # refused in its zone; never sent outside it
    assert _calls(clean_emulator).get("us-east", 0) == 0
    regions = set(ProviderAttempt.unscoped.filter(tenant=alice.tenant).values_list("region", flat=True))
    assert regions == {"swedencentral"}


def test_residency_that_excludes_every_deployment_is_refused(alice, clean_emulator):
    pool = _pool(clean_emulator, alice.tenant, [{"name": "us-east", "region": "eastus2", "data_zone": "us"}])
    response = alice.client().patch("/api/v1/capacity", {"allowed_data_zones": ["eu"]}, format="json")
    assert response.status_code == 400 and "allowed_regions" in response.content.decode()
    assert pool.tenants.get().allowed_data_zones == []  # nothing changed


def test_the_breaker_opens_after_repeated_refusals_and_calls_skip_the_deployment(alice, clean_emulator, settings):
    settings.POOL_BREAKER_FAILURES = 2
    webhook_endpoint_create(
        tenant=alice.tenant,
        url="https://hooks.example.com/ops",
        events=["deployment.breaker_changed"],
        actor=Actor.for_user(alice.user),
    )
    clean_emulator.configure(deployments={"broken": {"down": "404"}, "good": {}})
    _pool(clean_emulator, alice.tenant, [{"name": "broken", "priority": 0}, {"name": "good", "priority": 1}])
    with job_queue_consumed_only_by(set()):
        job_ids = [_submit(alice, f"a dune {i}") for i in range(4)]
        states = [job_run(job_id=job_id, owner=f"r{job_id}").state for job_id in job_ids]

    assert states == ["succeeded"] * 4
    calls = _calls(clean_emulator)
    assert calls.get("broken") == 2 and calls.get("good") == 4  # after 2 refusals the breaker keeps calls off it
    changes = AuditEvent.objects.for_tenant(alice.tenant).filter(action="deployment.breaker_changed")
    assert [(e.payload["from"], e.payload["to"]) for e in changes] == [("closed", "open")]
    (delivery,) = WebhookDelivery.objects.for_tenant(alice.tenant).filter(event="deployment.breaker_changed")
    assert delivery.payload["data"]["to"] == "open" and delivery.payload["data"]["deployment"].endswith("/broken")
    capacity = alice.client().get("/api/v1/capacity").json()
    assert {d["name"].split("/")[-1]: d["breaker"] for d in capacity["deployments"]} == {
        "broken": "open",
        "good": "closed",
    }


def test_capacity_and_attempts_are_the_tenants_own(alice, bob, charlie, clean_emulator):
    clean_emulator.configure(deployments={"any": {}})
    _pool(clean_emulator, alice.tenant, [{"name": "any"}])
    with job_queue_consumed_only_by(set()):
        job_id = _submit(alice, "a pier")
        assert job_run(job_id=job_id, owner="r1").state == "succeeded"
    assert len(alice.client().get("/api/v1/provider-attempts").json()["results"]) == 1
    # Another tenant sees none of it and changes nothing.
    assert charlie.client().get("/api/v1/provider-attempts").json()["results"] == []
    assert charlie.client().get("/api/v1/capacity").json()["pool"] is None
    export = httpx.get(f"{clean_emulator.base_url}/_emulator/usage", params={"format": "json"}, timeout=10).text
    before = list(LedgerEntry.unscoped.order_by("id").values_list("id", flat=True))
    reconciled = charlie.client().post("/api/v1/provider-usage/reconcile", {"format": "json", "usage": export})
    assert reconciled.status_code == 200 and reconciled.json()["settled"] == 0
    assert list(LedgerEntry.unscoped.order_by("id").values_list("id", flat=True)) == before
    # A reviewer may read costs but not change capacity.
    assert bob.client().patch("/api/v1/capacity", {"retry_unknown_outcome": "never"}, format="json").status_code == 403
    bad = alice.client().patch("/api/v1/capacity", {"retry_unknown_outcome": "always"}, format="json")
    assert bad.status_code == 400 and "retry_unknown_outcome" in bad.json()["errors"][0]["field"]


def test_priority_is_validated_and_sets_the_lane(alice):
    bad = alice.client().post("/api/v1/jobs", {"prompt": "a cove", "priority": "urgent"}, format="json")
    assert bad.status_code == 400 and "priority" in bad.content.decode()
    with job_queue_consumed_only_by(set()):
        response = alice.client().post("/api/v1/jobs", {"prompt": "a cove", "priority": "interactive"}, format="json")
        assert Job.unscoped.get(pk=response.json()["id"]).priority == "interactive"
        default = _submit(alice, "a cove at dusk")
        assert Job.unscoped.get(pk=default).priority == "bulk"


def test_an_answer_whose_body_cannot_be_read_is_a_provisional_charge(alice, clean_emulator):
    # A 200 with a broken body: the service generated (and bills) it, but its usage is lost with the body.
    clean_emulator.configure(deployments={"broken-body": {"fault": "malformed"}})
    _pool(clean_emulator, alice.tenant, [{"name": "broken-body"}], own=True)
    with job_queue_consumed_only_by(set()):
        job_id = _submit(alice, "a lighthouse in snow")
        job_run(job_id=job_id, owner="run-1")

    assert [state for _, state in _states(job_id)] == ["unknown"]
    attempt = ProviderAttempt.unscoped.get(job_id=job_id)
    (provisional,) = LedgerEntry.objects.for_tenant(alice.tenant).filter(job_id=job_id, kind="provisional")
    assert provisional.provider_request_id == attempt.client_request_id
    # The provider's export bills it: reconciliation settles it from the exported usage.
    export = _export_of(clean_emulator, job_id=job_id)
    settled = alice.client().post("/api/v1/provider-usage/reconcile", {"format": "csv", "usage": export}, format="json")
    assert settled.json()["settled"] == 1
    assert LedgerEntry.objects.for_tenant(alice.tenant).filter(job_id=job_id, kind="charge").count() == 1


def test_a_tenant_cannot_reconcile_calls_on_the_platforms_deployments(alice, clean_emulator, tmp_path):
    # The platform pays for its deployments: an export a tenant uploads could otherwise release its own charges.
    clean_emulator.configure(deployments={"slow": {"latency": 3000}})
    _pool(clean_emulator, alice.tenant, [{"name": "slow", "read_timeout_seconds": 1}], retry_unknown_outcome="never")
    with job_queue_consumed_only_by(set()):
        job_id = _submit(alice, "a pier at dawn")
        job_run(job_id=job_id, owner="run-1")
    forged = alice.client().post(
        "/api/v1/provider-usage/reconcile",
        {"format": "json", "usage": "[]", "covers_until": "2999-01-01T00:00:00Z"},
        format="json",
    )
    assert forged.status_code == 200 and forged.json()["released"] == 0
    assert ProviderAttempt.unscoped.get(job_id=job_id).state == AttemptState.UNKNOWN
    # The operator reconciles it with the provider's real export.
    export = tmp_path / "usage.csv"
    export.write_text(_export_of(clean_emulator, job_id=job_id))
    out = io.StringIO()
    call_command("reconcile_provider_usage", file=str(export), stdout=out)
    assert "settled 1" in out.getvalue()
    assert ProviderAttempt.unscoped.get(job_id=job_id).state == AttemptState.SETTLED
