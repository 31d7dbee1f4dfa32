"""Four-eyes on generated versions and edits: a job's versions record its requester (user, key, and the
person behind the key through a key-minted-by-key chain), and that person may not approve them through
any key of the chain; another reviewer may. End to end: API -> a real worker -> the emulator."""

from __future__ import annotations

import time

import pytest
from rest_framework.test import APIClient

from dam.lifecycle import VersionStatus
from dam.models import AssetVersion
from generation.models import Job
from governance.models import AuditEvent
from governance.services.safety import safety_config_update
from tenants.models import Scope
from tests.support.clients import bearer_client, mint_key, session_client
from tests.support.review import approve, refused_by_four_eyes, review_state

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def emulator(clean_emulator, celery_worker):
    return clean_emulator


def _run(client: APIClient, body: dict, timeout: float = 120) -> AssetVersion:
    response = client.post("/api/v1/jobs", body, format="json")
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    deadline = time.monotonic() + timeout
    while (job := Job.unscoped.get(pk=job_id)).state not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline, f"job {job_id} still {job.state}"
        time.sleep(0.25)
    assert job.state == "succeeded", (job.error_code, job.error_message)
    return AssetVersion.unscoped.get(job_id=job_id)


def _refused_to_the_chain_and_approved_by_another(version, *, alice, bob, k1_token, k2_token, k2) -> None:
    assert (version.created_by_id, version.created_by_key_id, version.created_by_person_id) == (
        None,
        k2.pk,
        alice.user.pk,
    )
    created = AuditEvent.objects.for_tenant(alice.tenant).get(action="asset.version_created", target_id=str(version.pk))
    assert created.payload["requester"] == {"user": None, "api_key": k2.pk, "person": alice.user.pk}
    before = review_state(version)
    assert before[0] == VersionStatus.NEEDS_REVIEW
    for client in (session_client(alice.user), bearer_client(k1_token), bearer_client(k2_token)):
        response = approve(client, version)
        assert refused_by_four_eyes(response)
        assert review_state(version) == before
    response = approve(session_client(bob.user), version)
    assert response.status_code == 200, response.content
    assert review_state(version)[:2] == (VersionStatus.APPROVED, before[1] + 1)


def test_generated_versions_and_edits_made_through_a_chain_of_keys_are_refused_to_the_person_behind_it(
    alice, bob, emulator
):
    safety_config_update(tenant=alice.tenant, review_rule="always")
    k1_token, _ = mint_key(
        session_client(alice.user), "k1", Scope.ADMIN, Scope.JOBS_WRITE, Scope.JOBS_READ, Scope.REVIEWS_WRITE
    )
    k2_token, k2 = mint_key(bearer_client(k1_token), "k2", Scope.JOBS_WRITE, Scope.JOBS_READ, Scope.REVIEWS_WRITE)
    chain = {"alice": alice, "bob": bob, "k1_token": k1_token, "k2_token": k2_token, "k2": k2}

    generated = _run(bearer_client(k2_token), {"prompt": "A tent at dawn", "quality": "low"})
    _refused_to_the_chain_and_approved_by_another(generated, **chain)

    edit_of = {"prompt": "The tent in snow", "quality": "low", "source_version": {"asset": generated.asset_id}}
    edit = _run(bearer_client(k2_token), edit_of)
    assert (edit.parent_id, edit.number) == (generated.pk, 2)
    _refused_to_the_chain_and_approved_by_another(edit, **chain)
