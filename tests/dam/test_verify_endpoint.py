"""The credentials API: a stored version's or rendition's report (tenant-scoped), and the public verifier
(`POST /api/v1/verify`): sniffed and limited like uploads, throttled, nothing stored, never a 500 on garbage."""

from __future__ import annotations

import io
import os
import random
import struct
import zlib
from pathlib import Path
from unittest.mock import patch

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from dam.blobs import blob_put
from dam.lifecycle import VersionStatus
from dam.services.assets import asset_create, asset_version_create
from dam.services.renditions import rendition_create
from tests.factories import set_status
from tests.support.actors import key_holder
from tests.support.c2pa_ca import build_ca, issue_signing_cert, make_test_ca
from tests.support.c2pa_images import plain_image, sign_image
from tests.support.errors import error_codes, names_field

pytestmark = pytest.mark.django_db
VERIFY = "/api/v1/verify"
PROBLEM = "application/problem+json"


@pytest.fixture
def anchors(tmp_path, settings):
    path = tmp_path / "anchors.pem"
    path.write_bytes(make_test_ca().trust_anchors_pem)
    settings.C2PA_TRUST_ANCHORS = str(path)
    return path


@pytest.fixture(scope="module")
def brand_cert():
    return issue_signing_cert(make_test_ca(), common_name="Tenant A Signing", organization="Tenant A")


@pytest.fixture
def public():
    """An anonymous client from an address of its own: the throttle's count starts at zero for each test."""
    return Client(REMOTE_ADDR=f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}")


def _store_version(tenant, data: bytes, image_format: str = "png"):
    blob = blob_put(tenant_id=tenant.pk, kind="originals", data=data, image_format=image_format)
    asset = asset_create(tenant=tenant, title="signed hero", source="uploaded")
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    return asset_version_create(asset=asset, blob=blob, width=width, height=height, image_format=image_format)


def _store_rendition(version, spec: str, data: bytes, image_format: str):
    blob = blob_put(tenant_id=version.tenant_id, kind="renditions", data=data, image_format=image_format)
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    return rendition_create(
        version=version, spec=spec, blob=blob, width=width, height=height, image_format=image_format
    )


@pytest.fixture
def signed_version(alice, brand_cert):
    original = sign_image(plain_image("png"), image_format="png", cert=brand_cert, title="original")
    version = _store_version(alice.tenant, original)
    rendition = sign_image(
        plain_image("webp", size=(32, 24)),
        image_format="webp",
        cert=brand_cert,
        title="hero rendition",
        parent=(original, "png"),
        parent_title="original",
        actions=[{"action": "c2pa.resized"}, {"action": "c2pa.transcoded"}],
    )
    _store_rendition(version, "placement:hero", rendition, "webp")
    return version


def _url(version, rendition: str | None = None) -> str:
    url = f"/api/v1/assets/{version.asset_id}/versions/{version.number}/credentials"
    return f"{url}?rendition={rendition}" if rendition else url


# --- A stored file's credentials ----------------------------------------------------------------------


def test_a_versions_original_and_rendition_report_trusted_credentials(alice, signed_version, anchors):
    original = alice.client().get(_url(signed_version))
    assert original.status_code == 200
    body = original.json()
    assert (body["present"], body["valid"], body["trusted"], body["state"]) == (True, True, True, "trusted")
    assert body["signer"] == "Tenant A" and body["issuer"] == "Test C2PA Intermediate CA (Test C2PA)"
    assert body["version"] == signed_version.number and body["rendition"] is None
    assert body["sha256"] == signed_version.sha256
    assert body["manifest_store"]["validation_state"] == "Trusted"

    rendition = alice.client().get(_url(signed_version, "placement:hero")).json()
    assert rendition["state"] == "trusted" and rendition["rendition"] == "placement:hero"
    assert [a["action"] for a in rendition["actions"]] == ["c2pa.opened", "c2pa.resized", "c2pa.transcoded"]
    (parent,) = rendition["ingredients"]
    assert parent["title"] == "original" and parent["trusted"] is True and parent["signer"] == "Tenant A"


def test_without_the_anchor_the_same_files_are_valid_not_trusted(alice, signed_version, settings):
    settings.C2PA_TRUST_ANCHORS = ""
    body = alice.client().get(_url(signed_version)).json()
    assert (body["valid"], body["trusted"], body["state"]) == (True, False, "valid")


def test_a_changed_byte_in_a_stored_rendition_fails(alice, signed_version, anchors):
    rendition = signed_version.renditions.get(spec="placement:hero")
    with default_storage.open(rendition.storage_key, "rb") as handle:
        data = bytearray(handle.read())
    data[-5] ^= 0x01  # the end of the image data, covered by the manifest's hash
    # Through the storage API, so the same test runs against the filesystem and Azure Blob (Azurite).
    default_storage.delete(rendition.storage_key)
    assert default_storage.save(rendition.storage_key, ContentFile(bytes(data))) == rendition.storage_key
    body = alice.client().get(_url(signed_version, "placement:hero")).json()
    assert body["present"] and not body["valid"] and body["state"] == "invalid"
    assert any(status["kind"] == "failure" for status in body["validation"])
    # The original is untouched and still trusted.
    assert alice.client().get(_url(signed_version)).json()["state"] == "trusted"


def test_an_unsigned_file_answers_present_false(alice, anchors):
    version = _store_version(alice.tenant, plain_image("png"))
    body = alice.client().get(_url(version)).json()
    assert (body["present"], body["valid"], body["state"], body["signer"]) == (False, False, "absent", None)


def test_an_unknown_rendition_is_a_400_naming_it(alice, signed_version):
    response = alice.client().get(_url(signed_version, "placement:nope"))
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert names_field(response, "rendition") and "does_not_exist" in error_codes(response)
    assert "placement:hero" in response.json()["detail"]


def test_another_tenants_version_is_a_404_and_nothing_changes(alice, charlie, signed_version):
    before = list(signed_version.renditions.values_list("id", "sha256"))
    for url in (_url(signed_version), _url(signed_version, "placement:hero")):
        response = charlie.client().get(url)
        assert response.status_code == 404 and response["Content-Type"] == PROBLEM
    assert list(signed_version.renditions.values_list("id", "sha256")) == before


def test_a_storefront_key_reads_only_visible_versions(alice, signed_version, anchors):
    storefront = key_holder(alice.tenant, "assets:read", name="shop")
    assert storefront.client().get(_url(signed_version)).status_code == 404  # waiting for review
    set_status(signed_version, VersionStatus.APPROVED)
    assert storefront.client().get(_url(signed_version, "placement:hero")).json()["state"] == "trusted"


def test_the_credentials_need_assets_read(alice, signed_version):
    no_scope = key_holder(alice.tenant, "jobs:read", name="jobs-only")
    response = no_scope.client().get(_url(signed_version))
    assert response.status_code == 403 and "assets:read" in response.json()["detail"]


# --- The public verifier ------------------------------------------------------------------------------


def _post(client: Client, data: bytes, name: str = "image.png", **fields):
    return client.post(VERIFY, {"file": SimpleUploadedFile(name, data), **fields})


def _row_counts() -> dict[str, int]:
    return {model._meta.label: model._base_manager.count() for model in apps.get_models() if model._meta.managed}


def _stored_files() -> set[str]:
    root = Path(django_settings.MEDIA_ROOT)
    return {str(p) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def test_anyone_can_verify_a_signed_image_and_nothing_is_stored(public, brand_cert, anchors):
    original = sign_image(plain_image("png"), image_format="png", cert=brand_cert, title="original")
    rendition = sign_image(
        plain_image("jpeg"), image_format="jpeg", cert=brand_cert, parent=(original, "png"), parent_title="original"
    )
    rows, files = _row_counts(), _stored_files()
    # Every write to storage in this process during the request, whatever its path (a scan of the media folder
    # before and after also sees files a standing worker writes for an earlier test's tenant meanwhile).
    writes: list[str] = []
    real_save = default_storage._save

    def recorded(name, content):
        writes.append(name)
        return real_save(name, content)

    with patch.object(default_storage, "_save", recorded):
        response = _post(public, rendition, "shop-image.jpg")
    assert writes == []
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["present"], body["valid"], body["trusted"]) == (True, True, True)
    assert body["signer"] == "Tenant A" and body["format"] == "jpeg"
    assert body["ingredients"][0]["title"] == "original" and body["ingredients"][0]["trusted"] is True
    assert _row_counts() == rows
    assert _stored_files() <= files | {f for f in _stored_files() if "/tenants/" in f}


def test_an_image_signed_under_another_ca_is_valid_not_trusted(public, anchors):
    stranger = issue_signing_cert(build_ca("Stranger"), common_name="Stranger")
    body = _post(public, sign_image(plain_image("webp"), image_format="webp", cert=stranger)).json()
    assert (body["valid"], body["trusted"], body["signer"]) == (True, False, "Stranger")


def test_an_image_without_credentials_says_so(public, anchors):
    for image_format in ("png", "jpeg", "webp", "avif"):
        response = _post(public, plain_image(image_format))
        assert response.status_code == 200
        assert (response.json()["present"], response.json()["state"]) == (False, "absent")


def test_a_tampered_image_is_invalid(public, brand_cert, anchors):
    signed = bytearray(sign_image(plain_image("jpeg", size=(80, 80)), image_format="jpeg", cert=brand_cert))
    signed[-10] ^= 0x01
    body = _post(public, bytes(signed)).json()
    assert body["present"] and body["state"] == "invalid" and not body["valid"]


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_declaring(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", 415, "unsupported_media_type"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", 415, "unsupported_media_type"),
        (b"%PDF-1.7\n", 415, "unsupported_media_type"),
        (b"", 400, "empty"),
        (png_declaring(100_000, 100_000), 422, "too_many_pixels"),
        (png_declaring(8_000, 8_000), 422, "too_many_pixels"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, 422, "invalid_image"),
    ],
    ids=["svg", "gif", "pdf", "empty", "bomb", "over-limit", "broken-png"],
)
def test_refused_files_are_problems_naming_the_file_and_the_rule(public, data, status, code):
    rows = _row_counts()
    response = _post(public, data)
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    assert names_field(response, "file") and code in error_codes(response)
    assert _row_counts() == rows


def test_a_file_over_the_limit_is_a_413(public, settings):
    settings.UPLOAD_MAX_BYTES = 2048
    response = _post(public, plain_image("png", size=(200, 200)) + os.urandom(4096))
    assert response.status_code == 413 and names_field(response, "file") and "too_large" in error_codes(response)


def test_a_missing_file_or_an_unknown_field_is_a_400(public):
    missing = public.post(VERIFY, {})
    assert missing.status_code == 400 and names_field(missing, "file")
    extra = _post(public, plain_image("png"), tenant_hint="x")
    assert extra.status_code == 400 and names_field(extra, "tenant_hint")
    assert public.get(VERIFY).status_code == 405


def test_a_large_upload_is_read_in_memory_never_spooled_to_disk(public, settings, tmp_path):
    # Django spools a body over FILE_UPLOAD_MAX_MEMORY_SIZE to FILE_UPLOAD_TEMP_DIR: pointing that nowhere
    # would break the request if the verifier let it (its handler keeps the file in memory).
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "does-not-exist")
    noise = Image.frombytes("RGB", (1100, 1100), os.urandom(1100 * 1100 * 3))
    out = io.BytesIO()
    noise.save(out, format="PNG", compress_level=0)
    assert len(out.getvalue()) > settings.FILE_UPLOAD_MAX_MEMORY_SIZE
    response = _post(public, out.getvalue())
    assert response.status_code == 200 and response.json()["present"] is False


def test_the_verifier_is_throttled_per_address(settings, public):
    settings.VERIFY_THROTTLE_RATE = "3/minute"
    answers = [_post(public, plain_image("png")).status_code for _ in range(4)]
    assert answers[:3] == [200, 200, 200] and answers[3] == 429
    throttled = _post(public, plain_image("png"))
    assert throttled["Content-Type"] == PROBLEM and int(throttled["Retry-After"]) >= 1
    assert "throttled" in error_codes(throttled)
    # Another address is counted on its own.
    assert _post(Client(REMOTE_ADDR="192.0.2.77"), plain_image("png")).status_code == 200


def test_garbage_never_makes_a_server_error(public, brand_cert, settings):
    """Random bytes, random bytes behind each format's magic, truncations and bit flips of signed files."""
    settings.VERIFY_THROTTLE_RATE = "100000/minute"
    rng = random.Random(19)
    signed = {
        fmt: sign_image(plain_image(fmt, size=(40, 30)), image_format=fmt, cert=brand_cert)
        for fmt in ("png", "jpeg", "webp", "avif")
    }
    magic = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF\x10\x00\x00\x00WEBPVP8 ", b"\x00\x00\x00\x1cftypavif"]
    samples = [rng.randbytes(rng.randrange(1, 3000)) for _ in range(20)]
    samples += [m + rng.randbytes(rng.randrange(0, 600)) for m in magic for _ in range(6)]
    for data in signed.values():
        samples += [data[: rng.randrange(8, len(data))] for _ in range(6)]
        for _ in range(6):
            flipped = bytearray(data)
            for _ in range(rng.randrange(1, 8)):
                flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
            samples.append(bytes(flipped))
    statuses = set()
    for data in samples:
        response = _post(public, data)
        assert response.status_code in (200, 415, 422), (response.status_code, data[:40])
        if response.status_code != 200:
            assert response["Content-Type"] == PROBLEM and names_field(response, "file")
        statuses.add(response.status_code)
    assert statuses == {200, 415, 422}
