"""Recording a provider answer: once, with its charge, however often a run tries (in-process, no worker)."""

from __future__ import annotations

import os
import time
from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from dam.blobs import blob_put
from generation.foundry.config import platform_deployment_config
from generation.foundry.results import ImageOutput, ImageResult, Usage
from generation.models import JobGeneration, ProviderResponse
from generation.services.execution import _record_response, job_claim
from governance.models import BudgetHold, LedgerEntry
from tests.factories import png_bytes
from tests.fixtures.celery_worker import job_queue_consumed_only_by

pytestmark = pytest.mark.django_db(transaction=True)  # the recording transaction must be the outermost


@pytest.fixture(autouse=True)
def jobs_stay_queued():
    with job_queue_consumed_only_by(set()):
        yield


def _answer(request_id: str) -> ImageResult:
    return ImageResult(
        outputs=(ImageOutput(data=b"not looked at here", format="png", width=1024, height=1024),),
        usage=Usage(text_input_tokens=40, output_tokens=272, total_tokens=312),
        provider_request_id=request_id,
        latency_seconds=2.0,
        elapsed_seconds=2.0,
        attempts=1,
    )


def test_the_same_answer_recorded_twice_is_one_response_and_one_charge(alice):
    job_id = alice.client().post("/api/v1/jobs", {"prompt": "a canoe", "quality": "low"}, format="json").json()["id"]
    job = job_claim(job_id=job_id, owner="test-run")
    unit = JobGeneration.objects.for_tenant(alice.tenant).get(job=job)
    config = platform_deployment_config()
    hold_before = BudgetHold.objects.for_tenant(alice.tenant).get(job_id=job_id).remaining_usd

    first = _record_response(job, unit, _answer("req-dup-1"), config, outputs=[])
    again = _record_response(job, unit, _answer("req-dup-1"), config, outputs=[])  # the insert fails and rolls back

    assert again.pk == first.pk and again.output_tokens == 272
    assert ProviderResponse.objects.for_tenant(alice.tenant).filter(job_id=job_id).count() == 1
    charges = LedgerEntry.objects.for_tenant(alice.tenant).filter(job_id=job_id, kind=LedgerEntry.Kind.CHARGE)
    assert [c.provider_request_id for c in charges] == ["req-dup-1"]
    charge = charges.get().amount_usd
    hold_after = BudgetHold.objects.for_tenant(alice.tenant).get(job_id=job_id).remaining_usd
    assert charge > 0 and hold_after == max(hold_before - charge, 0)  # consumed once, not twice


@pytest.mark.local_storage
def test_blob_cleanup_keeps_the_images_of_a_recorded_response_whose_versions_do_not_exist_yet(alice):
    """Its worker died and the re-run is late: the charged images are its only way to finish without paying again."""
    job_id = alice.client().post("/api/v1/jobs", {"prompt": "a sloop", "quality": "low"}, format="json").json()["id"]
    job = job_claim(job_id=job_id, owner="test-run")
    unit = JobGeneration.objects.for_tenant(alice.tenant).get(job=job)
    held = blob_put(tenant_id=alice.tenant.pk, kind="originals", data=png_bytes(colour=(3, 4, 5)), image_format="png")
    orphan = blob_put(tenant_id=alice.tenant.pk, kind="originals", data=png_bytes(colour=(6, 7, 8)), image_format="png")
    ref = {"key": held.key, "sha256": held.sha256, "size": held.size, "width": 64, "height": 64, "format": "png"}
    _record_response(job, unit, _answer("req-held-1"), platform_deployment_config(), outputs=[ref])
    old = time.time() - 3 * 3600
    for key in (held.key, orphan.key):
        os.utime(default_storage.path(key), (old, old))

    out = StringIO()
    call_command("cleanup_orphan_blobs", stdout=out)

    assert default_storage.exists(held.key), out.getvalue()
    assert not default_storage.exists(orphan.key)
