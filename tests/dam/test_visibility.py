"""A storefront key never sees needs_review, rejected or blocked versions (lists, detail, versions, URLs);
nobody is handed a URL for a blocked version."""

from __future__ import annotations

import json

import pytest

from dam.blobs import blob_put, blob_url
from dam.lifecycle import VersionStatus
from dam.services.assets import asset_create, asset_version_create, rendition_create
from tenants.models import Scope
from tests.factories import blob_address, png_bytes
from tests.support.actors import key_holder

pytestmark = pytest.mark.django_db


def _add_version(tenant, asset, status: str, colour: tuple[int, int, int]):
    blob = blob_put(tenant_id=tenant.pk, kind="originals", data=png_bytes(colour=colour), image_format="png")
    version = asset_version_create(asset=asset, blob=blob, width=64, height=48, image_format="png", status=status)
    small = blob_put(tenant_id=tenant.pk, kind="renditions", data=png_bytes(16, 12, colour=colour), image_format="png")
    rendition_create(version=version, spec="placement:thumb", blob=small, width=16, height=12, image_format="png")
    return version


@pytest.fixture
def shop(tenant_a):
    """A storefront key of tenant A: only `assets:read`."""
    return key_holder(tenant_a, Scope.ASSETS_READ, name="web-shop")


@pytest.fixture
def library(tenant_a):
    """One asset per status story; colours keep every blob (and so every URL) distinct."""
    assets = {}
    for name, statuses in {
        "approved-then-waiting": [VersionStatus.APPROVED, VersionStatus.NEEDS_REVIEW],
        "published": [VersionStatus.PUBLISHED],
        "waiting": [VersionStatus.NEEDS_REVIEW],
        "rejected": [VersionStatus.REJECTED],
        "blocked": [VersionStatus.BLOCKED],
    }.items():
        asset = asset_create(tenant=tenant_a, title=name, source="generated")
        versions = [_add_version(tenant_a, asset, s, (len(assets) * 40, i * 90, 7)) for i, s in enumerate(statuses)]
        assets[name] = (asset, versions)
    return assets


def _hidden_urls(library) -> set[str]:
    urls = set()
    for _, versions in library.values():
        for version in versions:
            if version.status not in (VersionStatus.APPROVED, VersionStatus.PUBLISHED):
                urls.add(blob_address(blob_url(version.storage_key)))
                urls |= {blob_address(blob_url(r.storage_key)) for r in version.renditions.all()}
    return urls


def test_storefront_lists_only_assets_with_visible_versions_through_their_latest_visible_one(shop, library):
    results = shop.client().get("/api/v1/assets").json()["results"]
    shown = {item["title"]: item["current_version"] for item in results}
    assert set(shown) == {"approved-then-waiting", "published"}
    assert shown["approved-then-waiting"]["number"] == 1 and shown["approved-then-waiting"]["status"] == "approved"
    assert shown["published"]["status"] == "published"


@pytest.mark.parametrize("name", ["waiting", "rejected", "blocked"])
def test_storefront_detail_of_an_asset_without_a_visible_version_is_not_found(shop, library, name):
    asset, _ = library[name]
    assert shop.client().get(f"/api/v1/assets/{asset.pk}").status_code == 404
    assert shop.client().get(f"/api/v1/assets/{asset.pk}/versions").status_code == 404


def test_storefront_version_list_and_detail_hide_the_waiting_version(shop, library):
    asset, (approved, _waiting) = library["approved-then-waiting"]
    versions = shop.client().get(f"/api/v1/assets/{asset.pk}/versions").json()["results"]
    assert [v["number"] for v in versions] == [approved.number]
    detail = shop.client().get(f"/api/v1/assets/{asset.pk}").json()
    assert detail["current_version"]["number"] == approved.number


def test_no_storefront_response_carries_a_url_of_a_hidden_version(shop, library):
    api = shop.client()
    bodies = [api.get("/api/v1/assets").content]
    for asset, _ in library.values():
        bodies += [api.get(f"/api/v1/assets/{asset.pk}{suffix}").content for suffix in ("", "/versions")]
    text = b"".join(bodies).decode()
    leaked = [url for url in _hidden_urls(library) if url in text]
    assert leaked == []


def test_the_brand_team_sees_every_version_but_never_a_url_of_a_blocked_one(alice, library):
    asset, (blocked,) = library["blocked"]
    detail = alice.client().get(f"/api/v1/assets/{asset.pk}").json()["current_version"]
    assert detail["status"] == "blocked" and detail["url"] is None
    assert [r["url"] for r in detail["renditions"]] == [None]
    waiting_asset, (waiting,) = library["waiting"]
    waiting_detail = alice.client().get(f"/api/v1/assets/{waiting_asset.pk}").json()["current_version"]
    assert blob_address(waiting_detail["url"]) == blob_address(blob_url(waiting.storage_key))
    assert blob_address(blob_url(blocked.storage_key)) not in json.dumps(alice.client().get("/api/v1/assets").json())
