"""Moderation at generation time, end to end: API -> a real worker -> the emulator's image and Content Safety
endpoints over HTTP (the worker moderates with the Azure client) -> versions that start blocked, waiting or
approved."""

from __future__ import annotations

import pytest

from dam.blobs import blob_read
from dam.models import AssetVersion, Rendition
from generation.models import Job, ProviderResponse
from governance.services.safety import safety_config_update
from tenants.services import brand_policy_update, placement_create
from tests.support.errors import error_codes
from tests.support.jobs import wait_for_job

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def emulator(clean_emulator, celery_worker, settings):
    # The API process screens prompts through the same emulator's Content Safety endpoints.
    settings.MODERATION_BACKEND = "azure"
    settings.CONTENT_SAFETY_ENDPOINT = clean_emulator.base_url
    settings.CONTENT_SAFETY_KEY = clean_emulator.api_key
    return clean_emulator


def _submit(actor, body) -> int:
    response = actor.client().post("/api/v1/jobs", body, format="json")
    assert response.status_code == 202, response.content
    return response.json()["id"]


def _statuses(tenant, job_id: int) -> list[str]:
    versions = AssetVersion.objects.for_tenant(tenant).filter(job_id=job_id).order_by("output_index", "id")
    return list(versions.values_list("status", flat=True))


def test_a_prompt_blocked_before_generation_costs_nothing(alice, emulator):
    blocked = alice.client().post(
        "/api/v1/jobs", {"prompt": "A forest cs-violence-6", "quality": "low", "n": 4}, format="json"
    )
    assert blocked.status_code == 422 and "safety_blocked" in error_codes(blocked)
    assert not Job.objects.for_tenant(alice.tenant).exists()
    # A job that passes runs on the same worker: the blocked one was never there to run.
    (job,) = [wait_for_job(_submit(alice, {"prompt": "A forest at dawn", "quality": "low"}))]
    assert job.state == "succeeded", (job.error_code, job.error_message)
    assert emulator.image_calls() == 1
    assert ProviderResponse.objects.for_tenant(alice.tenant).count() == 1
    assert emulator.stats()["content_safety"]["calls"]["text_analyze"] == 2


def test_an_output_over_the_threshold_is_quarantined_and_never_served(alice, emulator):
    placement_create(tenant=alice.tenant, slug="square", width=1024, height=1024, output_format="jpeg")
    emulator.configure(content_safety={"image_verdict_queue": [{"violence": 6}, {}]})
    job = wait_for_job(_submit(alice, {"prompt": "A tent at dawn", "quality": "low", "n": 2, "placements": ["square"]}))
    assert job.state == "succeeded", (job.error_code, job.error_message)
    blocked, clean = AssetVersion.objects.for_tenant(alice.tenant).filter(job_id=job.pk).order_by("output_index")
    assert (blocked.status, clean.status) == ("blocked", "approved")
    # Kept for audit: the bytes are in storage; but nothing is derived from them and no URL is handed out.
    assert blob_read(blocked.storage_key)
    assert not Rendition.objects.for_tenant(alice.tenant).filter(version=blocked).exists()
    assert Rendition.objects.for_tenant(alice.tenant).filter(version=clean, spec="placement:square").exists()
    detail = alice.client().get(f"/api/v1/jobs/{job.pk}").json()
    by_version = {o["version"] and o["asset"]: o for o in detail["outputs"]}
    assert by_version[blocked.asset_id]["url"] is None and by_version[blocked.asset_id]["status"] == "blocked"
    assert by_version[clean.asset_id]["url"]
    # Why: the verdict names the category, the severity and the threshold, on the version and on the job.
    output_verdict = blocked.safety_verdicts[-1]
    assert output_verdict["decision"] == "block" and output_verdict["backend"] == "azure"
    assert output_verdict["categories"]["violence"] == {"severity": 6, "threshold": 4, "blocked": True}
    stages = [(v["stage"], v["decision"]) for v in detail["safety_verdicts"]]
    assert stages == [("prompt", "pass"), ("output", "block"), ("output", "pass")]
    assert detail["safety_config_version"] == 1
    assert blocked.asset_id not in {a["id"] for a in alice.client().get("/api/v1/storefront/assets").json()["results"]}


def test_the_review_rule_decides_where_outputs_start(alice, emulator):
    # flagged_only (the general preset): a flagged output waits, a clean one is approved.
    emulator.configure(content_safety={"image_verdict_queue": [{"sexual": 2}, {}]})
    first = wait_for_job(_submit(alice, {"prompt": "A beach towel", "quality": "low", "n": 2}))
    assert _statuses(alice.tenant, first.pk) == ["needs_review", "approved"]
    # A prompt the classifier flags (below the threshold) sends its outputs to review too.
    flagged_prompt = wait_for_job(_submit(alice, {"prompt": "A boxing brawl poster", "quality": "low"}))
    assert _statuses(alice.tenant, flagged_prompt.pk) == ["needs_review"]
    # always: everything waits; a brand policy that requires review adds to the rule.
    safety_config_update(tenant=alice.tenant, review_rule="always")
    always = wait_for_job(_submit(alice, {"prompt": "A beach towel", "quality": "low"}))
    assert _statuses(alice.tenant, always.pk) == ["needs_review"]
    safety_config_update(tenant=alice.tenant, review_rule="never")
    brand_policy_update(tenant=alice.tenant, review_required=True)
    brand = wait_for_job(_submit(alice, {"prompt": "A beach towel", "quality": "low"}))
    assert _statuses(alice.tenant, brand.pk) == ["needs_review"]
    brand_policy_update(tenant=alice.tenant, review_required=False)
    emulator.configure(content_safety={"image_verdict_queue": [{"hate": 2}]})
    never = wait_for_job(_submit(alice, {"prompt": "A beach towel", "quality": "low"}))
    assert _statuses(alice.tenant, never.pk) == ["approved"]
    version = AssetVersion.objects.for_tenant(alice.tenant).get(job_id=never.pk)
    assert (version.safety_config_version, version.brand_policy_version) == (3, 2)


def test_a_provider_refusal_is_recorded_as_a_verdict_on_the_job(alice, emulator):
    blocked_term = emulator.config()["blocked_terms"][0]
    job = wait_for_job(_submit(alice, {"prompt": f"a scene with {blocked_term}", "quality": "low"}))
    assert job.state == "failed" and job.error_code == "content_filtered"
    refusal = job.safety_verdicts[-1]
    assert (refusal["stage"], refusal["decision"], refusal["backend"]) == ("prompt", "block", "provider")
    assert refusal["categories"]["violence"]["blocked"] is True
    detail = alice.client().get(f"/api/v1/jobs/{job.pk}").json()
    assert detail["safety_verdicts"][-1]["backend"] == "provider"


def test_a_moderation_outage_at_submission_is_a_503_and_stores_nothing(alice, emulator):
    emulator.configure(content_safety={"fault_queue": ["500", "500", "500"]})
    response = alice.client().post("/api/v1/jobs", {"prompt": "A canoe on a lake"}, format="json")
    assert response.status_code == 503 and "moderation_unavailable" in error_codes(response)
    assert not Job.objects.for_tenant(alice.tenant).exists() and emulator.image_calls() == 0


def test_a_moderation_outage_in_the_worker_retries_the_job_without_generating_again(alice, emulator, settings):
    settings.MODERATION_BACKEND = "local"  # the outage hits the worker's output checks only
    emulator.configure(content_safety={"fault_queue": ["500", "500", "500"]})
    job = wait_for_job(_submit(alice, {"prompt": "A canoe on a lake", "quality": "low"}))
    assert job.state == "succeeded", (job.error_code, job.error_message)
    assert job.attempts == 2
    assert emulator.image_calls() == 1  # the second attempt moderated the outputs already received
    assert _statuses(alice.tenant, job.pk) == ["approved"]
