"""Job submission through the API: validation before any spend, idempotency, planning, cancel."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from generation.models import Job, JobGeneration
from tenants.models import Scope
from tenants.services import brand_policy_update, placement_create
from tests.factories import make_api_key
from tests.support.errors import error_codes, error_message, names_field

pytestmark = pytest.mark.django_db


@pytest.fixture
def placements(tenant_a):
    return {
        slug: placement_create(tenant=tenant_a, slug=slug, width=w, height=h, output_format=fmt)
        for slug, w, h, fmt in [
            ("pdp-square", 2048, 2048, "webp"),
            ("hero-4k", 3840, 2160, "jpeg"),
            ("mobile-story", 1080, 1920, "jpeg"),
            ("leaderboard", 970, 250, "png"),
        ]
    }


def _submit(actor, body, **headers):
    return actor.client().post("/api/v1/jobs", body, format="json", **headers)


def test_a_job_is_accepted_with_its_size_plan_and_provider_calls(alice, placements):
    response = _submit(
        alice,
        {"prompt": "A trail shoe on wet rock", "placements": ["hero-4k", "mobile-story"], "locales": {"ja": "新登場"}},
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["state"] == "queued"
    sizes = sorted(g["size"] for g in body["generations"])
    assert sizes == ["1088x1920", "3840x2160"]
    assert {g["locale"] for g in body["generations"]} == {"ja"}
    plan_groups = body["size_plan"]["groups"]
    assert sorted(p["slug"] for g in plan_groups for p in g["placements"]) == ["hero-4k", "mobile-story"]
    job = Job.objects.for_tenant(alice.tenant).get(pk=body["id"])
    assert job.estimated_output_tokens == sum(g["estimated_output_tokens"] for g in plan_groups)
    ja_prompt = JobGeneration.objects.for_tenant(alice.tenant).filter(job=job).first().compiled_prompt
    assert '"新登場"' in ja_prompt


def test_the_dry_run_plan_spends_and_stores_nothing(alice, placements):
    response = alice.client().post(
        "/api/v1/jobs/plan",
        {"prompt": "x", "placements": ["pdp-square", "leaderboard"], "locales": {"ko": "a", "hi": "b"}, "n": 2},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["provider_calls"] == 4 and response.json()["images"] == 8
    assert not Job.objects.for_tenant(alice.tenant).exists()


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({}, "prompt", 400),
        ({"prompt": "x", "size": "1000x1000"}, "size", 400),
        ({"prompt": "x", "size": "big"}, "size", 400),
        ({"prompt": "x", "size": "1024x1024", "routing": {"mode": "tier", "tier": "image"}}, "size", 400),
        ({"prompt": "x", "routing": {"mode": "tier", "tier": "huge"}}, "routing", 400),
        ({"prompt": "x", "routing": {"mode": "bucket", "bucket": 50}}, "routing", 400),
        ({"prompt": "x", "placements": ["nope"]}, "placements", 400),
        ({"prompt": "x", "quality": "ultra"}, "quality", 400),
        ({"prompt": "x", "n": 0}, "n", 400),
        ({"prompt": "x", "n": 11}, "n", 400),
        ({"prompt": "x", "output_format": "gif"}, "output_format", 400),
        ({"prompt": "x", "output_format": "jpeg", "background": "transparent"}, "background", 400),
        ({"prompt": "x", "locales": {"Japanese": "x"}}, "locales", 400),
        ({"prompt": "x", "locales": {"ja": ""}}, "locales", 400),
        ({"prompt": "x", "source_version": {"asset": 999999}}, "source_version", 400),
        ({"prompt": "cheap sneakers on sale"}, "prompt", 422),
        ({"prompt": "x", "locales": {"ja": "激安セール"}}, "locales", 422),
    ],
)
def test_invalid_requests_name_the_field_and_store_nothing(alice, placements, body, field, status):
    brand_policy_update(tenant=alice.tenant, banned_terms=["cheap", "激安"])
    response = _submit(alice, body)
    assert response.status_code == status, response.content
    assert names_field(response, field)
    assert not Job.objects.for_tenant(alice.tenant).exists()


def test_a_banned_term_is_named_in_the_422(alice):
    brand_policy_update(tenant=alice.tenant, banned_terms=["discount"])
    response = _submit(alice, {"prompt": "Big DISCOUNT banner"})
    assert response.status_code == 422
    assert "discount" in error_message(response, "prompt") and "banned_term" in error_codes(response)


def test_the_same_idempotency_key_and_body_returns_the_same_job(alice):
    first = _submit(alice, {"prompt": "a red kayak"}, HTTP_IDEMPOTENCY_KEY="k-1")
    second = _submit(alice, {"prompt": "a red kayak"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    conflict = _submit(alice, {"prompt": "a blue kayak"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert conflict.status_code == 409 and names_field(conflict, "Idempotency-Key")
    assert Job.objects.for_tenant(alice.tenant).count() == 1


def test_idempotency_keys_are_per_tenant(alice, charlie):
    a = _submit(alice, {"prompt": "same"}, HTTP_IDEMPOTENCY_KEY="shared")
    b = _submit(charlie, {"prompt": "same"}, HTTP_IDEMPOTENCY_KEY="shared")
    assert a.json()["id"] != b.json()["id"]


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_submissions_with_one_key_create_one_job(tenant_a):
    token = make_api_key(tenant_a, Scope.JOBS_WRITE).token
    results: list[tuple[int, int]] = []
    barrier = threading.Barrier(20)

    def submit() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        barrier.wait()
        try:
            response = client.post("/api/v1/jobs", {"prompt": "one job"}, format="json", HTTP_IDEMPOTENCY_KEY="race")
            results.append((response.status_code, response.json()["id"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 20
    assert {status for status, _ in results} == {202}
    assert len({job_id for _, job_id in results}) == 1
    assert Job.objects.for_tenant(tenant_a).count() == 1


def test_a_viewer_key_cannot_submit_or_cancel(alice, bob):
    job_id = _submit(alice, {"prompt": "x"}).json()["id"]
    assert _submit(bob, {"prompt": "x"}).status_code == 403
    assert bob.client().post(f"/api/v1/jobs/{job_id}/cancel").status_code == 403
    assert Job.objects.for_tenant(alice.tenant).get(pk=job_id).state == "queued"


def test_cancelling_a_queued_job_is_immediate_and_final(alice):
    job_id = _submit(alice, {"prompt": "x"}).json()["id"]
    response = alice.client().post(f"/api/v1/jobs/{job_id}/cancel")
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    again = alice.client().post(f"/api/v1/jobs/{job_id}/cancel")
    assert again.status_code == 200
    listed = alice.client().get("/api/v1/jobs?state=cancelled").json()["results"]
    assert [j["id"] for j in listed] == [job_id]
    assert alice.client().get("/api/v1/jobs?state=bogus").status_code == 400


def test_a_running_job_is_claimed_again_only_by_its_own_run(alice):
    """A task retried after a database error keeps its task id (the lease owner) and takes its job
    back at once; any other run waits for the lease to run out."""
    from generation.services.execution import job_claim

    job_id = _submit(alice, {"prompt": "claimed twice"}).json()["id"]  # never enqueued: no commit here
    first = job_claim(job_id=job_id, owner="task-a")
    assert first is not None and first.state == "running" and first.attempts == 1
    assert job_claim(job_id=job_id, owner="task-b") is None
    again = job_claim(job_id=job_id, owner="task-a")
    assert again is not None and again.lease_owner == "task-a" and again.attempts == 2
