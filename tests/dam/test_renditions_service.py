"""Renditions as a service: allow-list, once per (version, spec) under concurrency, up front on the queue."""

from __future__ import annotations

import io
import logging
import threading
import time

import pytest
from django.db import connection
from PIL import Image

from dam.blobs import blob_read
from dam.models import Rendition
from dam.renditions.presets import PRESET_SPECS
from dam.services.metadata import version_metadata_update
from dam.services.renditions import InvalidSpec, SpecNotAllowed, rendition_get_or_create, renditions_generate_up_front
from dam.services.settings import library_settings_update
from tenants.services import placement_archive, placement_create
from tests.factories import make_version

SERVICE_LOGGER = "dam.services.renditions"


def _renders(caplog, spec: str) -> int:
    return sum(1 for r in caplog.records if r.getMessage() == "rendition rendered" and r.spec == spec)


@pytest.mark.django_db
class TestOnDemand:
    def test_presets_render_once_and_are_stored_at_their_size(self, tenant_a, caplog):
        caplog.set_level(logging.INFO, logger=SERVICE_LOGGER)
        version = make_version(tenant_a)
        first = rendition_get_or_create(version=version, spec="format-webp|width-800")
        again = rendition_get_or_create(version=version, spec="width-800|format-webp")
        assert first.pk == again.pk and first.spec == "width-800|format-webp"
        assert _renders(caplog, first.spec) == 1
        image = Image.open(io.BytesIO(blob_read(first.storage_key)))
        assert (image.format, image.size) == ("WEBP", (first.width, first.height)) == ("WEBP", (800, 450))
        assert first.storage_key.startswith(f"tenants/{tenant_a.pk}/renditions/{first.sha256[:2]}/")

    def test_unlisted_specs_are_refused_and_nothing_is_stored(self, tenant_a):
        version = make_version(tenant_a)
        with pytest.raises(SpecNotAllowed) as refused:
            rendition_get_or_create(version=version, spec="width-801|format-webp")
        assert refused.value.status_code == 403 and "allow-list" in refused.value.message
        with pytest.raises(InvalidSpec) as invalid:
            rendition_get_or_create(version=version, spec="rotate-90")
        assert invalid.value.status_code == 400
        assert not Rendition.objects.for_tenant(tenant_a).filter(version=version).exists()

    def test_the_allow_list_opens_exactly_its_canonical_specs(self, tenant_a):
        library_settings_update(tenant=tenant_a, rendition_allow_list=["FORMAT-JPG|fill-1200x628"])
        version = make_version(tenant_a)
        rendition = rendition_get_or_create(version=version, spec="fill-1200x628|format-jpeg")
        assert (rendition.width, rendition.height, rendition.format) == (1200, 628, "jpeg")
        with pytest.raises(SpecNotAllowed):
            rendition_get_or_create(version=version, spec="fill-1200x628|format-png")

    def test_placements_are_allowed_by_name_and_by_their_own_spec(self, tenant_a):
        placement_create(tenant=tenant_a, slug="leaderboard", width=970, height=250, output_format="png")
        version = make_version(tenant_a)
        named = rendition_get_or_create(version=version, spec="placement:leaderboard")
        assert (named.placement_slug, named.width, named.height, named.format) == ("leaderboard", 970, 250, "png")
        assert (
            rendition_get_or_create(version=version, spec="fill-970x250|format-png").spec == "fill-970x250|format-png"
        )
        with pytest.raises(InvalidSpec):
            rendition_get_or_create(version=version, spec="placement:nope")

    def test_another_tenants_allow_list_opens_nothing_here(self, tenant_a, tenant_b):
        library_settings_update(tenant=tenant_b, rendition_allow_list=["width-333"])
        with pytest.raises(SpecNotAllowed):
            rendition_get_or_create(version=make_version(tenant_a), spec="width-333")


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_requests_for_a_new_rendition_render_and_store_it_once(tenant_a, caplog):
    caplog.set_level(logging.INFO, logger=SERVICE_LOGGER)
    library_settings_update(tenant=tenant_a, rendition_allow_list=["fill-640x640-c40|format-avif"])
    version = make_version(tenant_a)
    spec = "fill-640x640-c40|format-avif"
    barrier = threading.Barrier(20)
    results: list[int] = []
    errors: list[BaseException] = []

    def request() -> None:
        try:
            barrier.wait(timeout=30)  # all 20 start together; each takes a database connection only now
            results.append(rendition_get_or_create(version=version, spec=spec).pk)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    connection.close()  # hand this thread's pooled connection back: the 20 requests may need them all
    threads = [threading.Thread(target=request) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(results) == 20 and len(set(results)) == 1
    assert Rendition.objects.for_tenant(tenant_a).filter(version=version, spec=spec).count() == 1
    assert _renders(caplog, spec) == 1  # one render, so one stored file (and content addressing agrees)


@pytest.mark.django_db
class TestUpFront:
    def test_a_version_gets_its_tenants_placements_and_the_presets(self, tenant_a):
        placement_create(tenant=tenant_a, slug="pdp", width=1080, height=1080, output_format="webp", compression=80)
        placement_create(tenant=tenant_a, slug="story", width=1080, height=1920, output_format="jpeg")
        archived = placement_create(tenant=tenant_a, slug="old", width=300, height=300, output_format="png")
        placement_archive(placement=archived)
        version = make_version(tenant_a)
        made = renditions_generate_up_front(version_id=version.pk)
        assert made == ["placement:pdp", "placement:story", *PRESET_SPECS]
        sizes = {r.spec: (r.width, r.height, r.format) for r in version.renditions.all()}
        assert sizes["placement:pdp"] == (1080, 1080, "webp")
        assert sizes["placement:story"] == (1080, 1920, "jpeg")  # fill enlarges to the slot's exact pixels
        assert sizes["fill-400x400|format-webp"] == (400, 400, "webp")
        assert renditions_generate_up_front(version_id=version.pk) == []  # nothing missing: nothing rendered

    def test_a_blocked_version_gets_nothing(self, tenant_a):
        version = make_version(tenant_a, status="blocked")
        assert renditions_generate_up_front(version_id=version.pk) == []
        assert not version.renditions.exists()

    def test_moving_the_focal_point_recuts_the_crops_only(self, tenant_a, django_capture_on_commit_callbacks):
        placement_create(tenant=tenant_a, slug="pdp", width=500, height=500, output_format="png")
        version = make_version(tenant_a)
        renditions_generate_up_front(version_id=version.pk)
        before = {r.spec: r.sha256 for r in version.renditions.all()}
        with django_capture_on_commit_callbacks() as callbacks:
            version_metadata_update(version=version, focal_point={"x": 0.9, "y": 0.1})
        assert len(callbacks) == 1  # the up-front set is queued again
        left = set(version.renditions.values_list("spec", flat=True))
        assert left == {spec for spec in before if not spec.startswith(("fill-", "placement:"))}
        renditions_generate_up_front(version_id=version.pk)
        after = {r.spec: r.sha256 for r in version.renditions.all()}
        assert after.keys() == before.keys()
        assert after["placement:pdp"] != before["placement:pdp"]  # cut around the new point
        assert after["width-800|format-webp"] == before["width-800|format-webp"]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_new_version_gets_its_renditions_from_a_real_worker_on_the_renditions_queue(tenant_a, celery_worker):
    placement_create(tenant=tenant_a, slug="pdp", width=600, height=600, output_format="webp")
    version = make_version(tenant_a)  # committed: the on-commit hook queues the task
    expected = {"placement:pdp", *PRESET_SPECS}
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        made = set(Rendition.objects.for_tenant(tenant_a).filter(version=version).values_list("spec", flat=True))
        if made >= expected:
            break
        time.sleep(0.5)
    assert made == expected
