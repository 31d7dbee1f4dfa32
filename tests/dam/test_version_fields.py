"""Every API that shows a version (library, job outputs, review queue) shows its URL, its renditions' URLs
and its safety verdicts one way (dam.api.assets.VersionFieldsMixin)."""

from __future__ import annotations

import pytest

from dam.api.assets import AssetVersionSerializer
from dam.api.review import ReviewItemSerializer
from dam.blobs import blob_put, blob_url
from dam.lifecycle import VersionStatus
from dam.services.assets import asset_create, asset_version_create, rendition_create
from generation.api.jobs import JobOutputSerializer
from tests.factories import blob_address, png_bytes

pytestmark = pytest.mark.django_db

SERIALIZERS = [AssetVersionSerializer, JobOutputSerializer, ReviewItemSerializer]
VERDICT = {
    "stage": "output",
    "decision": "block",
    "blocklist_matches": [{"list": "brand", "text": "cheap"}],
}


def _version(tenant, status: str):
    asset = asset_create(tenant=tenant, title=status, source="generated")
    colour = (len(status) * 20, 40, 90)
    blob = blob_put(tenant_id=tenant.pk, kind="originals", data=png_bytes(colour=colour), image_format="png")
    version = asset_version_create(asset=asset, blob=blob, width=64, height=48, image_format="png", status=status)
    version.safety_verdicts = [VERDICT]
    small = blob_put(tenant_id=tenant.pk, kind="renditions", data=png_bytes(16, 12, colour=colour), image_format="png")
    rendition_create(version=version, spec="placement:thumb", blob=small, width=16, height=12, image_format="png")
    return version


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_a_blocked_version_has_no_url_and_neither_have_its_renditions(tenant_a, serializer):
    # A version can be blocked after its renditions were cut (the lifecycle allows approved -> blocked).
    version = _version(tenant_a, VersionStatus.BLOCKED)
    data = serializer(version, context={"storefront": False, "reveal_terms": True}).data
    assert data["url"] is None
    assert [r["url"] for r in data["renditions"]] == [None]


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest.mark.parametrize("status", [VersionStatus.NEEDS_REVIEW, VersionStatus.APPROVED, VersionStatus.PUBLISHED])
def test_a_servable_version_has_its_urls_for_an_internal_caller(tenant_a, serializer, status):
    version = _version(tenant_a, status)
    data = serializer(version, context={"storefront": False, "reveal_terms": True}).data
    assert blob_address(data["url"]) == blob_address(blob_url(version.storage_key))
    rendition = version.renditions.get()
    assert [blob_address(r["url"]) for r in data["renditions"]] == [blob_address(blob_url(rendition.storage_key))]


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_blocklist_terms_show_only_to_a_caller_who_may_see_them(tenant_a, serializer):
    version = _version(tenant_a, VersionStatus.NEEDS_REVIEW)
    hidden = serializer(version, context={"storefront": False, "reveal_terms": False}).data["safety_verdicts"]
    shown = serializer(version, context={"storefront": False, "reveal_terms": True}).data["safety_verdicts"]
    assert hidden[0]["blocklist_matches"] == [{"list": "brand"}]
    assert shown == [VERDICT]
