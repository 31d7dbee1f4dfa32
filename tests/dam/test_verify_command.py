"""`manage.py verify_credentials`: every stored original and rendition of a tenant (or a sample), the files
without a valid manifest listed, a non-zero exit when any fails, and memory that does not grow with the files."""

from __future__ import annotations

import io
import os
import tracemalloc

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from dam.blobs import blob_put
from dam.services.assets import asset_create, asset_version_create
from dam.services.renditions import rendition_create
from tests.support.c2pa_ca import issue_signing_cert, make_test_ca
from tests.support.c2pa_images import plain_image, sign_image

pytestmark = pytest.mark.django_db


@pytest.fixture
def anchors(tmp_path, settings):
    path = tmp_path / "anchors.pem"
    path.write_bytes(make_test_ca().trust_anchors_pem)
    settings.C2PA_TRUST_ANCHORS = str(path)
    return path


@pytest.fixture(scope="module")
def cert():
    return issue_signing_cert(make_test_ca(), common_name="Tenant A Signing", organization="Tenant A")


def _version(tenant, data: bytes, image_format: str = "png", title: str = "asset"):
    blob = blob_put(tenant_id=tenant.pk, kind="originals", data=data, image_format=image_format)
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    asset = asset_create(tenant=tenant, title=title, source="uploaded")
    return asset_version_create(asset=asset, blob=blob, width=width, height=height, image_format=image_format)


def _rendition(version, spec: str, data: bytes, image_format: str):
    blob = blob_put(tenant_id=version.tenant_id, kind="renditions", data=data, image_format=image_format)
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    return rendition_create(
        version=version, spec=spec, blob=blob, width=width, height=height, image_format=image_format
    )


def _signed_pair(tenant, cert, title: str):
    original = sign_image(plain_image("png"), image_format="png", cert=cert, title=title)
    version = _version(tenant, original, title=title)
    rendition = sign_image(plain_image("webp", size=(32, 24)), image_format="webp", cert=cert, parent=(original, "png"))
    _rendition(version, "placement:hero", rendition, "webp")
    return version


def _run(*args: str) -> tuple[str, str, CommandError | None]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_credentials", *args, stdout=out, stderr=err)
    except CommandError as error:
        return out.getvalue(), err.getvalue(), error
    return out.getvalue(), err.getvalue(), None


def test_a_tenant_whose_files_all_verify_exits_zero(alice, charlie, cert, anchors):
    for n in range(2):
        _signed_pair(alice.tenant, cert, f"hero {n}")
    _version(charlie.tenant, plain_image("png"))  # another tenant's unsigned file is not this run's business
    out, err, error = _run("--tenant", alice.tenant.slug, "--progress-every", "1")
    assert error is None, out
    assert "FAIL" not in out
    assert f"4 files of tenant {alice.tenant.slug}: 4 trusted; 0 without a valid manifest" in out
    assert [line for line in err.splitlines() if line.startswith("…")][-1] == "… 4/4 files checked, 0 failed"
    assert err.count("files checked") == 4


def test_files_without_a_valid_manifest_are_listed_and_the_exit_is_non_zero(alice, cert, anchors):
    good = _signed_pair(alice.tenant, cert, "good")
    unsigned = _version(alice.tenant, plain_image("jpeg"), image_format="jpeg", title="unsigned")
    tampered = _signed_pair(alice.tenant, cert, "tampered")
    rendition = tampered.renditions.get()
    with default_storage.open(rendition.storage_key, "rb") as handle:
        data = bytearray(handle.read())
    data[-5] ^= 0x01
    # Through the storage API, so the same test runs against the filesystem and Azure Blob (Azurite).
    default_storage.delete(rendition.storage_key)
    assert default_storage.save(rendition.storage_key, ContentFile(bytes(data))) == rendition.storage_key
    missing = _signed_pair(alice.tenant, cert, "missing")
    default_storage.delete(missing.storage_key)

    out, _, error = _run("--tenant", alice.tenant.slug)
    assert error is not None and "3 of 7 stored files failed verification" in str(error)
    # The changed byte may land in the image data or in the manifest (WebP keeps it last): invalid either way.
    fails = sorted(line.split(" (")[0] for line in out.splitlines() if line.startswith("FAIL"))
    slug = alice.tenant.slug
    assert fails == sorted(
        [
            f"FAIL {slug} asset {unsigned.asset_id} v1 original: absent",
            f"FAIL {slug} asset {tampered.asset_id} v1 placement:hero: invalid",
            f"FAIL {slug} asset {missing.asset_id} v1 original: unreadable",
        ]
    ), out
    assert "original: absent (no manifest)" in out and "original: unreadable (dam.unreadable)" in out
    assert "mismatch)" in out
    assert f"asset {good.asset_id}" not in "\n".join(fails)
    assert "4 trusted, 1 invalid, 1 unreadable, 1 absent; 3 without a valid manifest" in out


def test_require_trusted_fails_a_valid_manifest_from_an_untrusted_signer(alice, cert, settings):
    settings.C2PA_TRUST_ANCHORS = ""
    _signed_pair(alice.tenant, cert, "hero")
    out, _, error = _run("--tenant", alice.tenant.slug)
    assert error is None and "2 valid" in out
    out, _, error = _run("--tenant", alice.tenant.slug, "--require-trusted")
    assert error is not None and out.count("FAIL") == 2 and ": valid (signingCredential.untrusted)" in out


def test_trust_anchors_can_be_named_on_the_command_line(alice, cert, settings, tmp_path):
    settings.C2PA_TRUST_ANCHORS = ""
    _signed_pair(alice.tenant, cert, "hero")
    anchors = tmp_path / "ca.pem"
    anchors.write_bytes(make_test_ca().trust_anchors_pem)
    out, _, error = _run("--tenant", alice.tenant.slug, "--trust-anchors", str(anchors), "--require-trusted")
    assert error is None and "2 trusted" in out
    _, _, error = _run("--trust-anchors", str(tmp_path / "nope.pem"))
    assert error is not None and "--trust-anchors" in str(error)


def test_a_sample_checks_that_many_files(alice, charlie, cert, anchors):
    for n in range(3):
        _signed_pair(alice.tenant, cert, f"a{n}")
        _signed_pair(charlie.tenant, cert, f"b{n}")
    out, err, error = _run("--sample", "5")
    assert error is None
    assert "a sample of 5 files of every tenant: 5 trusted" in out
    assert "… 5/5 files checked, 0 failed" in err


def test_bad_arguments_are_refused(db):
    for args in (("--tenant", "nobody"), ("--sample", "0"), ("--progress-every", "0")):
        _, _, error = _run(*args)
        assert error is not None


@pytest.mark.local_storage  # the Azure backend buffers each download: its peak is the SDK's, not the command's
def test_memory_stays_flat_however_many_files(alice, settings):
    """30 files of ~300 kB each: the run never holds more than a few of them (it would need ~9 MB to keep all)."""
    settings.C2PA_TRUST_ANCHORS = ""
    for n in range(30):
        noise = Image.frombytes("RGB", (320, 320), os.urandom(320 * 320 * 3))
        out = io.BytesIO()
        noise.save(out, format="PNG", compress_level=0)
        _version(alice.tenant, out.getvalue(), title=f"noise {n}")
    size = len(out.getvalue())
    tracemalloc.start()
    try:
        _, _, error = _run("--tenant", alice.tenant.slug, "--progress-every", "10")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error is not None and "30 of 30" in str(error)  # unsigned: all absent
    assert peak < 6 * size, f"peak {peak:,} bytes for files of {size:,} bytes"


def test_files_the_platform_signed_all_verify_trusted(alice, anchors):
    """End to end with the platform's own signing: uploads and an on-demand rendition, signed with the tenant's key
    from the test CA, are what verify_credentials finds trusted."""
    from dam.credentials.keys import key_install
    from dam.services.renditions import rendition_get_or_create
    from dam.services.uploads import asset_upload

    cert = issue_signing_cert(make_test_ca(), common_name="Tenant A Content Credentials", organization="Tenant A")
    key_install(tenant_id=alice.tenant.pk, certificate_chain_pem=cert.chain_pem, private_key_pem=cert.private_key_pem)
    png = asset_upload(tenant=alice.tenant, data=plain_image("png", size=(320, 200)), filename="a.png")
    asset_upload(tenant=alice.tenant, data=plain_image("jpeg", size=(320, 200)), filename="b.jpg")
    rendition_get_or_create(version=png.version, spec="fill-400x400|format-webp")
    out, _, error = _run("--tenant", alice.tenant.slug, "--require-trusted")
    assert error is None, out
    assert f"3 files of tenant {alice.tenant.slug}: 3 trusted; 0 without a valid manifest" in out
