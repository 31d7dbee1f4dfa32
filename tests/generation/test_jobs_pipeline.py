"""Jobs end to end: API -> Redis -> a real Celery worker process -> the emulator over HTTP ->
versioned assets in storage. Counts of provider calls are read at the emulator."""

from __future__ import annotations

import io

import pytest
from django.db.models import Count
from PIL import Image

from dam.blobs import blob_read
from dam.models import Asset, AssetVersion, Rendition
from dam.provenance import read_provenance
from generation.models import ProviderResponse
from tenants.services import placement_create
from tests.factories import make_asset
from tests.fixtures.celery_worker import FAST_FAILURE_ENV
from tests.support.jobs import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

LOCALES = {"ja": "夏のセール", "ko": "여름 세일", "zh": "夏季特卖", "hi": "गर्मी की सेल", "bn": "গ্রীষ্মের সেল"}


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.fixture
def emulator(clean_emulator, celery_worker):
    return clean_emulator


def _submit(actor, body) -> int:
    response = actor.client().post("/api/v1/jobs", body, format="json")
    assert response.status_code == 202, response.content
    return response.json()["id"]


def test_a_job_produces_versions_and_exact_placement_outputs(alice, emulator):
    placement_create(tenant=alice.tenant, slug="leaderboard", width=970, height=250, output_format="png")
    placement_create(tenant=alice.tenant, slug="mobile-story", width=1080, height=1920, output_format="jpeg")
    job_id = _submit(
        alice,
        {
            "prompt": "A tent at dawn",
            "placements": ["leaderboard", "mobile-story"],
            "quality": "low",
            "output_format": "webp",
        },
    )
    (job,) = wait_for([job_id])
    assert job.state == "succeeded", (job.error_code, job.error_message)
    detail = alice.client().get(f"/api/v1/jobs/{job_id}").json()
    assert detail["usage"]["provider_responses"] == 2 and detail["usage"]["output_tokens"] > 0
    outputs = detail["outputs"]
    assert len(outputs) == 2
    for version in AssetVersion.objects.for_tenant(alice.tenant).filter(job_id=job_id):
        original = decode(blob_read(version.storage_key))
        assert (original.width, original.height, original.format) == (version.width, version.height, "WEBP")
        for rendition in version.renditions.filter(spec__startswith="placement:"):
            image = decode(blob_read(rendition.storage_key))
            expected = {"leaderboard": (970, 250, "PNG"), "mobile-story": (1080, 1920, "JPEG")}
            assert (image.width, image.height, image.format) == expected[rendition.placement_slug]
    # The plan's own outputs; the library adds its preset renditions to every version besides.
    assert Rendition.objects.for_tenant(alice.tenant).filter(spec__startswith="placement:").count() == 2
    # Provenance travels with the bytes: the generated original and its placement cut both say so.
    version = AssetVersion.objects.for_tenant(alice.tenant).filter(job_id=job_id).first()
    for stored in (version.storage_key, version.renditions.get(spec="placement:leaderboard").storage_key):
        provenance = read_provenance(blob_read(stored))
        assert provenance["DigitalSourceType"].endswith("/trainedAlgorithmicMedia"), provenance
        assert provenance["AISystemUsed"] == "gpt-image-2"
    assert emulator.image_calls() == 2


def test_three_sequential_edits_build_a_lineage(alice, emulator):
    asset = make_asset(alice.tenant, title="product photo")
    for step in range(3):
        job_id = _submit(
            alice, {"prompt": f"edit step {step}", "quality": "low", "source_version": {"asset": asset.pk}}
        )
        (job,) = wait_for([job_id])
        assert job.state == "succeeded", (job.error_code, job.error_message)
    versions = list(AssetVersion.objects.for_tenant(alice.tenant).filter(asset=asset).order_by("number"))
    assert [v.number for v in versions] == [1, 2, 3, 4]
    assert [v.parent.number if v.parent else None for v in versions] == [None, 1, 2, 3]
    asset.refresh_from_db()
    assert asset.current_version == versions[-1]
    assert emulator.stats()["calls"] == {"generations": 0, "edits": 3}


@pytest.mark.parametrize(
    ("sizes", "expected_calls"),
    [([(970, 250), (1080, 1920)], 10), ([(1080, 1920), (2160, 3840)], 5)],
    ids=["two-aspects", "one-aspect"],
)
def test_locales_and_placements_fan_out_to_the_fewest_calls(alice, emulator, sizes, expected_calls):
    slugs = []
    for index, (width, height) in enumerate(sizes):
        placement_create(tenant=alice.tenant, slug=f"p{index}", width=width, height=height, output_format="jpeg")
        slugs.append(f"p{index}")
    job_id = _submit(alice, {"prompt": "Summer sale", "placements": slugs, "locales": LOCALES, "quality": "low"})
    (job,) = wait_for([job_id], timeout=180)
    assert job.state == "succeeded", (job.error_code, job.error_message)
    assert emulator.image_calls() == expected_calls
    renditions = Rendition.objects.for_tenant(alice.tenant).filter(
        version__job_id=job_id, spec__in=[f"placement:{slug}" for slug in slugs]
    )
    assert renditions.count() == 10
    assert {r.version.locale for r in renditions} == set(LOCALES)
    for version in AssetVersion.objects.for_tenant(alice.tenant).filter(job_id=job_id):
        assert f'"{LOCALES[version.locale]}"' in version.compiled_prompt
    prompts = [call["prompt"] for call in emulator.stats()["recent"]]
    for locale, copy in LOCALES.items():
        assert sum(copy in prompt for prompt in prompts) == expected_calls // 5, locale


def test_a_flaky_provider_still_completes_every_job_exactly_once(alice, emulator):
    emulator.configure(rate_429=0.3, rate_500=0.1, retry_after_ms=50)
    job_ids = [_submit(alice, {"prompt": f"flaky {i}", "quality": "low", "size": "1024x1024"}) for i in range(50)]
    jobs = wait_for(job_ids, timeout=300)
    assert {job.state for job in jobs} == {"succeeded"}, [
        (j.pk, j.error_message) for j in jobs if j.state != "succeeded"
    ]
    per_job = AssetVersion.objects.for_tenant(alice.tenant).values("job_id").annotate(n=Count("id"))
    assert sorted(row["n"] for row in per_job) == [1] * 50
    assert ProviderResponse.objects.for_tenant(alice.tenant).count() == 50


def test_a_provider_that_always_fails_ends_the_job_failed_with_the_reason(alice, emulator):
    emulator.configure(rate_500=1.0)
    job_id = _submit(alice, {"prompt": "doomed", "quality": "low"})
    (job,) = wait_for([job_id], timeout=240)
    assert job.state == "failed"
    assert job.error_code == "provider_unavailable"
    assert "500" in job.error_message or "server" in job.error_message.lower()
    assert job.attempts == int(FAST_FAILURE_ENV["JOB_MAX_ATTEMPTS"])
    assert not Asset.objects.for_tenant(alice.tenant).exists()


def test_a_content_refusal_fails_at_once_with_the_categories(alice, emulator):
    blocked = emulator.config()["blocked_terms"][0]
    job_id = _submit(alice, {"prompt": f"a scene with {blocked}", "quality": "low"})
    (job,) = wait_for([job_id])
    assert job.state == "failed" and job.error_code == "content_filtered"
    assert job.attempts == 1 and job.error_detail["categories"]
    assert emulator.image_calls() == 1
