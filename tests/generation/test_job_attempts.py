"""What an attempt is, and its limit: every claim of a job by a run is one attempt, and a claim beyond
JOB_MAX_ATTEMPTS fails the job instead of running it (a job whose workers keep dying must not run forever).

A run that "died" is simulated with the production claim (`job_claim`) and an expired lease, exactly what a
SIGKILLed worker leaves; tests/generation/test_jobs_crash.py kills real workers.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.utils import timezone

from dam.credentials.keys import key_install
from dam.models import AssetVersion, SigningKey
from generation.dispatch import PoolDispatcher
from generation.foundry.config import platform_deployment_config
from generation.foundry.results import ImageOutput, ImageResult, Usage
from generation.models import Job, JobGeneration
from generation.selectors import pools as pool_selectors
from generation.services import outputs
from generation.services.execution import _record_response, job_claim, job_run
from governance.models import AuditEvent, LedgerEntry
from governance.services.audit import audit_verify
from governance.services.ledger import ledger_for_job
from tests.fixtures.celery_worker import emulator_env, job_queue_consumed_only_by
from tests.support.c2pa_ca import cached_signing_cert
from tests.support.jobs import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _submit(alice, prompt: str) -> int:
    response = alice.client().post("/api/v1/jobs", {"prompt": prompt, "quality": "low"}, format="json")
    assert response.status_code == 202, response.content
    return response.json()["id"]


def _runs_that_died(job_id: int, count: int) -> None:
    """`count` runs claimed the job and their workers died: each left the job running under an expired lease."""
    for index in range(count):
        assert job_claim(job_id=job_id, owner=f"dead-run-{index}") is not None
        Job.unscoped.filter(pk=job_id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))


def _calls_of(emulator, job_id: int) -> int:
    prefix = f"job-{job_id}-"
    return sum(1 for c in emulator.stats()["recent"] if (c["client_request_id"] or "").startswith(prefix))


def test_a_job_redelivered_beyond_its_attempts_fails_and_one_within_them_counts_each_run(
    alice, clean_emulator, celery_worker_factory
):
    with job_queue_consumed_only_by(set()):
        within = _submit(alice, "a kite over dunes")
        beyond = _submit(alice, "a kite over cliffs")
        _runs_that_died(within, 1)
        _runs_that_died(beyond, 2)
        worker = celery_worker_factory(**{**emulator_env(clean_emulator), "JOB_MAX_ATTEMPTS": "2"})
        try:
            jobs = {job.pk: job for job in wait_for([within, beyond], timeout=60)}
        finally:
            worker.stop()

    assert jobs[within].state == "succeeded", (jobs[within].error_code, jobs[within].error_message)
    assert jobs[within].attempts == 2  # the run that died and the one that finished
    assert _calls_of(clean_emulator, within) == 1

    failed = jobs[beyond]
    assert failed.state == "failed"
    assert failed.error_code == "attempts_exhausted" and "2 attempts" in failed.error_message
    assert failed.attempts == 2  # the refused third claim is not counted: the count never passes the limit
    assert failed.error_detail == {"attempts": 2, "max_attempts": 2}
    assert _calls_of(clean_emulator, beyond) == 0
    assert not AssetVersion.objects.for_tenant(alice.tenant).filter(job_id=beyond).exists()
    ledger = ledger_for_job(tenant=alice.tenant, job_id=beyond)
    assert ledger.open_hold_usd is None and ledger.consistent and ledger.charges == 0
    assert AuditEvent.objects.for_tenant(alice.tenant).filter(action="job.failed", target_id=str(beyond)).exists()
    assert audit_verify(tenant=alice.tenant).ok


def test_a_recorded_response_whose_images_are_lost_fails_the_job_without_a_second_call(alice, clean_emulator):
    """A charged answer is never paid for again: if its images cannot be read, the job fails and says why."""
    with job_queue_consumed_only_by(set()):
        job_id = _submit(alice, "a kite in fog")
        job = job_claim(job_id=job_id, owner="dead-run")
        unit = JobGeneration.objects.for_tenant(alice.tenant).get(job=job)
        JobGeneration.objects.for_tenant(alice.tenant).filter(pk=unit.pk).update(provider_calls=1)
        answer = ImageResult(
            outputs=(ImageOutput(data=b"never stored", format="png", width=1024, height=1024),),
            usage=Usage(text_input_tokens=40, output_tokens=272, total_tokens=312),
            provider_request_id="req-lost-images",
            latency_seconds=1.0,
            elapsed_seconds=1.0,
            attempts=1,
        )
        missing = f"tenants/{alice.tenant.pk}/originals/00/{'0' * 64}.png"
        lost = {"key": missing, "sha256": "0" * 64, "size": 12, "width": 1024, "height": 1024, "format": "png"}
        _record_response(job, unit, answer, platform_deployment_config(), outputs=[lost])
        Job.unscoped.filter(pk=job_id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
        started = time.monotonic()

        outcome = job_run(job_id=job_id, owner="next-run")

    assert time.monotonic() - started < 30
    assert outcome.state == "failed"
    job = Job.unscoped.get(pk=job_id)
    assert job.error_code == "outputs_lost" and "req-lost-images" in job.error_message
    assert job.error_detail == {"provider_request_id": "req-lost-images", "missing": [missing]}
    assert clean_emulator.stats()["image_calls"] == 0
    charges = LedgerEntry.objects.for_tenant(alice.tenant).filter(job_id=job_id, kind="charge")
    assert [c.provider_request_id for c in charges] == ["req-lost-images"]  # the provider was paid: it stays
    ledger = ledger_for_job(tenant=alice.tenant, job_id=job_id)
    assert ledger.open_hold_usd is None and ledger.consistent
    assert audit_verify(tenant=alice.tenant).ok


def test_a_run_whose_job_was_reclaimed_while_it_waited_for_quota_makes_no_call(alice, clean_emulator, monkeypatch):
    """A wait that outlasts the lease lets another run take the job (one more attempt); the first run must not
    pay for the call the new owner will make."""
    with job_queue_consumed_only_by(set()):
        job_id = _submit(alice, "a kite at dusk")

        granted = PoolDispatcher.acquire

        def wait_past_the_lease(self, **kwargs):
            Job.unscoped.filter(pk=job_id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
            assert job_claim(job_id=job_id, owner="the-next-run") is not None
            return granted(self, **kwargs)

        monkeypatch.setattr(PoolDispatcher, "acquire", wait_past_the_lease)
        outcome = job_run(job_id=job_id, owner="the-slow-run")

    assert outcome.state is None
    job = Job.unscoped.get(pk=job_id)
    assert (job.state, job.lease_owner, job.attempts) == ("running", "the-next-run", 2)
    assert JobGeneration.objects.for_tenant(alice.tenant).get(job_id=job_id).provider_calls == 0
    assert clean_emulator.stats()["image_calls"] == 0


@pytest.fixture
def emulator_in_process(settings, clean_emulator):
    """This process's job runs call the emulator (as the workers do, tests/fixtures/celery_worker.py)."""
    for name, value in emulator_env(clean_emulator).items():
        setattr(settings, name, int(value) if value.isdigit() else value)
    settings.DISPATCH_KEY_PREFIX = f"{settings.DISPATCH_KEY_PREFIX}:{id(settings)}"
    pool_selectors._routes.clear()
    pool_selectors._dispatcher.cache_clear()
    yield clean_emulator
    pool_selectors._routes.clear()
    pool_selectors._dispatcher.cache_clear()


def _run_to_failure(alice, prompt: str) -> Job:
    """A job submitted and run once in this process (no worker takes it), which fails."""
    with job_queue_consumed_only_by(set()):
        job_id = _submit(alice, prompt)
        assert job_run(job_id=job_id, owner="the-run").state == "failed"
    return Job.unscoped.get(pk=job_id)


def test_a_signing_key_that_cannot_sign_fails_the_job_before_the_provider_is_paid(alice, emulator_in_process):
    """The key is made ready before the call: before, the error came after the answer, which was lost, and the
    next run paid for the unit again."""
    cert = cached_signing_cert("Undecryptable")
    key = key_install(
        tenant_id=alice.tenant.pk, certificate_chain_pem=cert.chain_pem, private_key_pem=cert.private_key_pem
    )
    other_secret = Fernet(Fernet.generate_key()).encrypt(cert.private_key_pem).decode()  # a rotated-away key's token
    SigningKey.unscoped.filter(pk=key.pk).update(private_key_encrypted=other_secret)
    job = _run_to_failure(alice, "a kite in rain")
    job_id = job.pk
    assert job.error_code == "signing_unavailable" and "cannot be decrypted" in job.error_message
    assert _calls_of(emulator_in_process, job_id) == 0
    ledger = ledger_for_job(tenant=alice.tenant, job_id=job_id)
    assert ledger.open_hold_usd is None and ledger.consistent and ledger.charges == 0
    assert audit_verify(tenant=alice.tenant).ok


def test_an_answer_whose_images_cannot_be_stored_is_charged_once_and_fails_the_job(
    alice, emulator_in_process, monkeypatch
):
    """Storage raised with the answer in hand (the worker alive): the answer is recorded and charged, and the job
    fails and says why. Before, the attempt stayed `sent` and the next run paid for the unit a second time."""

    def storage_down(**kwargs):
        raise OSError("blob storage refused the write")

    monkeypatch.setattr(outputs, "blob_put", storage_down)
    job = _run_to_failure(alice, "a kite in snow")
    job_id = job.pk
    assert job.error_code == "outputs_not_stored" and "refused the write" in job.error_message
    assert job.error_detail["cause"] == "OSError"
    assert _calls_of(emulator_in_process, job_id) == 1
    charges = LedgerEntry.objects.for_tenant(alice.tenant).filter(job_id=job_id, kind="charge")
    assert [c.provider_request_id for c in charges] == [job.error_detail["provider_request_id"]]
    assert not AssetVersion.objects.for_tenant(alice.tenant).filter(job_id=job_id).exists()
    ledger = ledger_for_job(tenant=alice.tenant, job_id=job_id)
    assert ledger.open_hold_usd is None and ledger.consistent and ledger.charges == 1
