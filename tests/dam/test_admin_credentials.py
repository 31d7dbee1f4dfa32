"""The asset page's Content Credentials panel: the original's report on the page, each rendition's loaded by its
own request (tenant-scoped), in words: signer, actions, the ingredient chain, the validation."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from PIL import Image

from dam.blobs import blob_put
from dam.services.assets import asset_create, asset_version_create
from dam.services.renditions import rendition_create
from tests.support.c2pa_ca import build_ca, issue_signing_cert, make_test_ca
from tests.support.c2pa_images import plain_image, sign_image

pytestmark = pytest.mark.django_db


@pytest.fixture
def anchors(tmp_path, settings):
    path = tmp_path / "anchors.pem"
    path.write_bytes(make_test_ca().trust_anchors_pem)
    settings.C2PA_TRUST_ANCHORS = str(path)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _store(tenant, original: bytes, renditions: dict[str, tuple[bytes, str]]):
    blob = blob_put(tenant_id=tenant.pk, kind="originals", data=original, image_format="png")
    asset = asset_create(tenant=tenant, title="Credentialed hero", source="generated")
    version = asset_version_create(asset=asset, blob=blob, width=64, height=48, image_format="png")
    for spec, (data, image_format) in renditions.items():
        stored = blob_put(tenant_id=tenant.pk, kind="renditions", data=data, image_format=image_format)
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
        rendition_create(
            version=version,
            spec=spec,
            blob=stored,
            width=width,
            height=height,
            image_format=image_format,
            placement_slug=spec.removeprefix("placement:") if spec.startswith("placement:") else "",
        )
    return version


def _panel(html: str) -> str:
    start = html.index('id="credentials"')
    return html[start : html.index("</section>", start)]


def test_the_panel_shows_the_original_and_loads_each_rendition(alice, anchors):
    ca = make_test_ca()
    brand = issue_signing_cert(ca, common_name="Tenant A Signing", organization="Tenant A")
    provider = issue_signing_cert(build_ca("Image Provider"), common_name="ImageGen", organization="Provider")
    answer = sign_image(plain_image("png"), image_format="png", cert=provider, title="AI Generated Image")
    original = sign_image(
        plain_image("png"),
        image_format="png",
        cert=brand,
        title="hero",
        parent=(answer, "png"),
        parent_title="AI Generated Image",
        actions=[{"action": "c2pa.edited"}],
    )
    cut = sign_image(
        plain_image("jpeg", size=(32, 32)),
        image_format="jpeg",
        cert=brand,
        title="hero square",
        parent=(original, "png"),
        parent_title="hero",
        actions=[{"action": "c2pa.cropped"}, {"action": "c2pa.transcoded"}],
    )
    version = _store(
        alice.tenant,
        original,
        {"placement:square": (cut, "jpeg"), "width-32": (plain_image("webp", size=(32, 24)), "webp")},
    )
    client = _client(alice.user)
    html = client.get(f"/admin/dam/asset/{version.asset_id}/change/").content.decode()
    panel = _panel(html)
    assert "Content Credentials" in panel
    assert 'data-credentials-file="original"' in panel and 'data-credentials-state="trusted"' in panel
    assert "Valid · trusted signer" in panel and "Tenant A" in panel and "Tenant A Signing" in panel
    assert "Test C2PA Intermediate CA (Test C2PA)" in panel
    assert "AI Generated Image" in panel and "signed by Provider" in panel  # the provider's link in the chain
    assert "opened" in panel and "edited" in panel
    # The renditions come one request each, after the page.
    rendition_urls = [
        f"/admin/dam/asset/rendition/{r.pk}/credentials/" for r in version.renditions.order_by("placement_slug")
    ]
    for url in rendition_urls:
        assert f'hx-get="{url}"' in panel
    square = version.renditions.get(spec="placement:square")
    fragment = client.get(f"/admin/dam/asset/rendition/{square.pk}/credentials/").content.decode()
    assert 'data-credentials-file="placement:square"' in fragment and 'data-credentials-state="trusted"' in fragment
    assert "cropped" in fragment and "transcoded" in fragment
    assert "hero" in fragment and "AI Generated Image" in fragment  # rendition -> original -> provider
    assert 'class="ui-cred-depth-2"' in fragment
    plain = version.renditions.get(spec="width-32")
    fragment = client.get(f"/admin/dam/asset/rendition/{plain.pk}/credentials/").content.decode()
    assert 'data-credentials-state="absent"' in fragment and "No Content Credentials" in fragment


def test_a_tampered_original_shows_what_failed(alice, anchors):
    brand = issue_signing_cert(make_test_ca(), common_name="Tenant A Signing", organization="Tenant A")
    signed = bytearray(sign_image(plain_image("png", size=(64, 48)), image_format="png", cert=brand))
    signed[signed.rindex(b"IEND") - 10] ^= 0x01
    version = _store(alice.tenant, bytes(signed), {})
    panel = _panel(_client(alice.user).get(f"/admin/dam/asset/{version.asset_id}/change/").content.decode())
    assert 'data-credentials-state="invalid"' in panel and "assertion.dataHash.mismatch" in panel


def test_another_tenants_rendition_credentials_are_a_404(alice, charlie, anchors):
    version = _store(alice.tenant, plain_image("png"), {"width-32": (plain_image("webp", size=(32, 24)), "webp")})
    rendition = version.renditions.get()
    assert _client(charlie.user).get(f"/admin/dam/asset/rendition/{rendition.pk}/credentials/").status_code == 404
    assert _client(alice.user).get(f"/admin/dam/asset/rendition/{rendition.pk}/credentials/").status_code == 200
