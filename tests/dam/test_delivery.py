"""Byte delivery: immutable content-addressed URLs, the current redirect, signing, headers."""

from __future__ import annotations

import datetime as dt
import hashlib
from urllib.parse import urlsplit

import pytest
from django.test import override_settings
from django.utils import timezone

from dam.api.serving import accepted_formats
from dam.delivery.signing import signed_query
from dam.lifecycle import VersionStatus
from dam.models import TenantDelivery
from dam.selectors.storefront import current_path, version_path
from tests.factories import add_rendition, set_status, set_window, storefront_asset

pytestmark = pytest.mark.django_db
IMMUTABLE = "public, max-age=31536000, immutable"


def _rendition_path(rendition) -> str:
    return version_path(
        version_id=rendition.version_id, spec=rendition.spec, sha256=rendition.sha256, image_format=rendition.format
    )


def _original_path(version) -> str:
    return version_path(version_id=version.pk, spec="original", sha256=version.sha256, image_format=version.format)


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def approved(alice):
    return storefront_asset(alice.tenant)


def test_an_immutable_url_serves_the_exact_bytes_with_long_caching_a_strong_etag_and_safe_headers(client, approved):
    version = approved.current_version
    rendition = version.renditions.get()
    for path, sha256, content_type in (
        (_original_path(version), version.sha256, "image/png"),
        (_rendition_path(rendition), rendition.sha256, "image/jpeg"),
    ):
        response = client.get(path)
        assert response.status_code == 200
        assert hashlib.sha256(_body(response)).hexdigest() == sha256
        assert response["Cache-Control"] == IMMUTABLE
        assert response["ETag"] == f'"{sha256}"'
        assert response["Content-Type"] == content_type
        assert response["X-Content-Type-Options"] == "nosniff"


def test_if_none_match_gets_304_without_a_body_and_keeps_the_caching_headers(client, approved):
    path = _original_path(approved.current_version)
    etag = client.get(path)["ETag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = client.get(path, HTTP_IF_NONE_MATCH=header)
        assert response.status_code == 304, header
        assert response.content == b""
        assert response["ETag"] == etag and response["Cache-Control"] == IMMUTABLE
    assert client.get(path, HTTP_IF_NONE_MATCH='"stale"').status_code == 200


def test_a_url_naming_other_bytes_or_another_extension_is_404(client, approved):
    version = approved.current_version
    good = _original_path(version)
    assert client.get(good.replace(version.sha256, "0" * 64)).status_code == 404
    assert client.get(good.replace(".png", ".jpg")).status_code == 404
    assert client.get(f"/d/{version.pk}/placement:nope/{version.sha256}.png").status_code == 404


@pytest.mark.parametrize("status", [VersionStatus.NEEDS_REVIEW, VersionStatus.REJECTED, VersionStatus.BLOCKED])
def test_unapproved_rejected_or_blocked_versions_are_never_served_even_signed(client, alice, status):
    asset = storefront_asset(alice.tenant, status=VersionStatus.NEEDS_REVIEW)
    version = asset.current_version
    if status != VersionStatus.NEEDS_REVIEW:
        set_status(version, status)
    rendition = version.renditions.get()
    for path in (_original_path(version), _rendition_path(rendition)):
        assert client.get(path).status_code == 404
        assert client.get(f"{path}?{signed_query(path)}").status_code == 404
    assert client.get(current_path(asset_id=asset.pk, placement_slug="pdp-square")).status_code == 404
    # Not kept by a CDN or a browser: the same URL serves the bytes the moment the version is approved.
    for path in (_original_path(version), current_path(asset_id=asset.pk, placement_slug="pdp-square")):
        missing = client.get(path)
        assert missing["Cache-Control"] == "no-store", path


def test_a_version_blocked_after_approval_stops_being_served(client, approved):
    path = _original_path(approved.current_version)
    assert client.get(path).status_code == 200
    set_status(approved.current_version, VersionStatus.BLOCKED)
    assert client.get(path).status_code == 404


def test_out_of_window_versions_are_not_served_and_caching_stops_at_the_window_end(client, approved):
    version = approved.current_version
    path = _original_path(version)
    now = timezone.now()
    set_window(version, start=now + dt.timedelta(hours=1), end=None)
    assert client.get(path).status_code == 404
    set_window(version, start=None, end=now - dt.timedelta(seconds=1))
    assert client.get(path).status_code == 404
    set_window(version, start=now - dt.timedelta(days=1), end=now + dt.timedelta(hours=2))
    response = client.get(path)
    assert response.status_code == 200
    max_age = int(response["Cache-Control"].split("max-age=")[1].split(",")[0])
    assert 7000 < max_age <= 7200  # never cached past the end of the rights


def test_current_url_redirects_to_the_latest_approved_version_with_short_caching(client, alice, approved):
    first = approved.current_version
    current = current_path(asset_id=approved.pk, placement_slug="pdp-square")
    response = client.get(current)
    assert response.status_code == 302
    assert response["Location"] == _rendition_path(first.renditions.get())
    assert response["Cache-Control"] == "public, max-age=60"
    assert "Accept" in response["Vary"]
    # A newer version that is not approved yet changes nothing; once approved, the redirect follows it.
    from dam.blobs import blob_put
    from dam.services.assets import asset_version_create
    from tests.factories import png_bytes

    blob = blob_put(tenant_id=alice.tenant.pk, kind="originals", data=png_bytes(colour=(1, 2, 3)), image_format="png")
    second = asset_version_create(asset=approved, blob=blob, width=64, height=48, image_format="png", parent=first)
    rendition = add_rendition(second, "placement:pdp-square", width=32, height=32, image_format="jpeg")
    assert client.get(current)["Location"] == _rendition_path(first.renditions.get())
    set_status(second, VersionStatus.APPROVED)
    assert client.get(current)["Location"] == _rendition_path(rendition)
    assert client.get(current_path(asset_id=approved.pk, placement_slug="unknown")).status_code == 404


def test_format_negotiation_picks_avif_or_webp_only_when_the_client_names_it(client, approved):
    version = approved.current_version
    jpeg = version.renditions.get()
    webp = add_rendition(version, "placement:pdp-square|format-webp", width=32, height=32, image_format="webp")
    current = current_path(asset_id=approved.pk, placement_slug="pdp-square")
    chrome = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
    assert client.get(current, HTTP_ACCEPT=chrome)["Location"] == _rendition_path(webp)
    assert client.get(current, HTTP_ACCEPT="*/*")["Location"] == _rendition_path(jpeg)
    assert client.get(current, HTTP_ACCEPT="image/webp;q=0")["Location"] == _rendition_path(jpeg)
    avif = add_rendition(version, "placement:pdp-square|format-avif", width=32, height=32, image_format="avif")
    assert client.get(current, HTTP_ACCEPT=chrome)["Location"] == _rendition_path(avif)
    served = client.get(_rendition_path(avif))
    assert served["Content-Type"] == "image/avif" and _body(served)[4:12] == b"ftypavif"


def test_accept_parsing():
    assert accepted_formats("image/avif,image/webp,*/*;q=0.8") == {"avif", "webp"}
    assert accepted_formats("image/webp;q=0, image/png") == {"png"}
    assert accepted_formats("*/*") == set()


@pytest.fixture
def private(alice):
    TenantDelivery.objects.for_tenant(alice.tenant).create(tenant=alice.tenant, signed_urls_required=True)


def test_private_delivery_needs_a_valid_unexpired_signature(client, approved, private):
    path = _original_path(approved.current_version)
    assert client.get(path).status_code == 403
    signed = f"{path}?{signed_query(path)}"
    response = client.get(signed)
    assert response.status_code == 200
    cache_control = response["Cache-Control"]
    assert cache_control.startswith("private, max-age=") and "public" not in cache_control


def test_tampered_signatures_are_403(client, alice, approved, private):
    version = approved.current_version
    path = _original_path(version)
    query = dict(part.split("=", 1) for part in signed_query(path).split("&"))
    other = storefront_asset(alice.tenant, title="other", colour=(5, 5, 5)).current_version
    # Two characters changed, never to what they were (a fixed "AA" was the real ending once in 1,024 runs).
    forged = query["sig"][:-2] + "".join("B" if c == "A" else "A" for c in query["sig"][-2:])
    assert forged != query["sig"]
    tampered = [
        f"{path}?expires={int(query['expires']) + 3600}&sig={query['sig']}",  # longer life
        f"{path}?expires={query['expires']}&sig={forged}",  # forged signature
        f"{path}?expires={query['expires']}",  # signature dropped
        f"{_original_path(other)}?expires={query['expires']}&sig={query['sig']}",  # moved to another image
        f"{path}?expires=soon&sig={query['sig']}",
    ]
    for url in tampered:
        response = client.get(url)
        assert response.status_code == 403, url
        assert response["Cache-Control"] == "no-store"


def test_expired_signatures_are_403(client, approved, private):
    path = _original_path(approved.current_version)
    past = int(timezone.now().timestamp()) - 1
    assert client.get(f"{path}?{signed_query(path, expires=past)}").status_code == 403
    soon = int(timezone.now().timestamp()) + 30
    assert client.get(f"{path}?{signed_query(path, expires=soon)}").status_code == 200


def test_signed_current_url_redirects_to_a_signed_immutable_url(client, approved, private):
    current = current_path(asset_id=approved.pk, placement_slug="pdp-square")
    assert client.get(current).status_code == 403
    response = client.get(f"{current}?{signed_query(current)}")
    assert response.status_code == 302 and response["Cache-Control"].startswith("private")
    target = response["Location"]
    assert urlsplit(target).query.startswith("expires=")
    assert client.get(target).status_code == 200


def test_a_signature_from_another_key_is_refused(client, approved, private):
    path = _original_path(approved.current_version)
    with override_settings(DELIVERY_SIGNING_KEY="another-deployment"):
        foreign = signed_query(path)
    assert client.get(f"{path}?{foreign}").status_code == 403
    with override_settings(DELIVERY_REQUIRE_SIGNED_URLS=True):
        assert client.get(path).status_code == 403


def test_only_safe_methods(client, approved):
    path = _original_path(approved.current_version)
    assert client.post(path).status_code == 405
    assert client.head(path).status_code == 200


def test_publish_windows_are_set_through_the_api_with_assets_write(alice, bob, approved, client):
    version = approved.current_version
    url = f"/api/v1/publish-windows/{version.pk}"
    assert alice.client().get(url).json() == {
        "version": version.pk,
        "asset": approved.pk,
        "number": 1,
        "available_from": None,
        "available_until": None,
    }
    later = (timezone.now() + dt.timedelta(days=2)).isoformat()
    assert bob.client().put(url, {"available_from": later}, format="json").status_code == 403
    assert client.get(_original_path(version)).status_code == 200
    response = alice.client().put(url, {"available_from": later}, format="json")
    assert response.status_code == 200 and response.json()["available_from"] is not None
    assert client.get(_original_path(version)).status_code == 404
    backwards = {"available_from": later, "available_until": timezone.now().isoformat()}
    assert alice.client().put(url, backwards, format="json").status_code == 400
    assert alice.client().put(url, {"available_from": None}, format="json").status_code == 200
    assert client.get(_original_path(version)).status_code == 200


def test_private_delivery_is_switched_on_by_an_admin(alice, bob, approved, client):
    api = alice.client()
    assert api.get("/api/v1/delivery-settings/current").json() == {"signed_urls_required": False}
    denied = bob.client().put("/api/v1/delivery-settings/current", {"signed_urls_required": True}, format="json")
    assert denied.status_code == 403
    switched = api.put("/api/v1/delivery-settings/current", {"signed_urls_required": True}, format="json")
    assert switched.json() == {"signed_urls_required": True}
    assert client.get(_original_path(approved.current_version)).status_code == 403
