"""Content Credentials signing (issue 19): every stored file carries a C2PA manifest that c2pa's own Reader
validates with the test CA as the only trust anchor; the chain runs rendition -> original -> provider manifest.

The files are read with c2pa-python directly (not dam.credentials.verify), so signing is checked independently of
the platform's verifier.
"""

from __future__ import annotations

import io
import json
import struct
import zlib

import c2pa
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management import CommandError, call_command
from PIL import Image

from dam.blobs import blob_read
from dam.credentials.keys import check_end_entity, decrypt_private_key, key_install
from dam.credentials.signing import SignerMaterial, register_remote_signer, sign_derived, sign_original, signer_for
from dam.formats import FORMATS
from dam.models import AssetVersion, SigningKey
from dam.provenance import ProvenanceRecord, provenance_stamp, read_provenance, xmp_packet
from dam.services.renditions import rendition_get_or_create
from dam.services.uploads import asset_upload
from tests.factories import encode, make_version, marked_image
from tests.support.c2pa_ca import (
    build_ca,
    cached_signing_cert,
    issue_signing_cert,
    make_test_ca,
    reader_settings,
)

pytestmark = pytest.mark.django_db
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"

RECORD = ProvenanceRecord(
    source_type="trainedAlgorithmicMedia",
    ai_system="gpt-image-2",
    ai_system_version="dep-eu",
    credit_line="Acme Studio",
    copyright_notice="(c) Acme",
)


def read(data: bytes, image_format: str, *, anchors: bytes = b"") -> tuple[str, dict, dict]:
    """(validation state, validation results, manifest store) with the test CA (+ anchors) trusted."""
    context = c2pa.Context.from_dict(reader_settings(make_test_ca(), extra_anchors_pem=anchors))
    with c2pa.Reader(FORMATS[image_format].content_type, io.BytesIO(data), context=context) as reader:
        return reader.get_validation_state(), reader.get_validation_results() or {}, json.loads(reader.json())


def active(store: dict) -> dict:
    return store["manifests"][store["active_manifest"]]


def actions(manifest: dict) -> list[dict]:
    (assertion,) = [a for a in manifest["assertions"] if a["label"] == "c2pa.actions.v2"]
    return assertion["data"]["actions"]


def delta_codes(results: dict) -> list[str]:
    """Success codes of the ingredients' validation (the links below the active manifest)."""
    return [c["code"] for d in results.get("ingredientDeltas", []) for c in d["validationDeltas"]["success"]]


def failures(results: dict) -> list[str]:
    return [f["code"] for f in results.get("activeManifest", {}).get("failure", [])]


@pytest.fixture
def tenant_key(tenant_a):
    cert = issue_signing_cert(make_test_ca(), common_name="Tenant A Content Credentials", organization="Tenant A")
    key = key_install(tenant_id=tenant_a.pk, certificate_chain_pem=cert.chain_pem, private_key_pem=cert.private_key_pem)
    return key, cert


def image_bytes(image_format: str, size: tuple[int, int] = (640, 480)) -> bytes:
    return encode(marked_image(*size), image_format.upper())


def signed_elsewhere(data: bytes, image_format: str, cert, *, source_type: str, agent: str = "") -> bytes:
    """`data` signed by someone else (a provider, a camera) with c2pa directly: c2pa.created of `source_type`."""
    created = {"action": "c2pa.created", "digitalSourceType": IPTC + source_type}
    if agent:
        created["softwareAgent"] = {"name": agent}
    manifest = {
        "claim_generator_info": [{"name": "elsewhere", "version": "1"}],
        "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [created]}}],
    }
    private = serialization.load_pem_private_key(cert.private_key_pem, None)
    signer = c2pa.Signer.from_callback(
        lambda d: private.sign(d, ec.ECDSA(hashes.SHA256())), c2pa.C2paSigningAlg.ES256, cert.chain_pem.decode()
    )
    target = io.BytesIO()
    with signer, c2pa.Builder(manifest) as builder:
        builder.sign(signer, FORMATS[image_format].content_type, io.BytesIO(data), target)
    return target.getvalue()


@pytest.mark.parametrize("image_format", ["png", "jpeg", "webp", "avif"])
def test_an_original_and_its_rendition_verify_trusted_in_every_format(tenant_a, tenant_key, image_format):
    if image_format == "avif":  # AVIF's XMP goes in through the encoder, as the rendition pipeline does it
        stamped = encode(marked_image(640, 480), "AVIF", xmp=xmp_packet(RECORD))
    else:
        stamped = provenance_stamp(image_bytes(image_format), image_format=image_format, record=RECORD)
    original = sign_original(stamped, image_format=image_format, record=RECORD, tenant_id=tenant_a.pk)
    state, results, store = read(original, image_format)
    assert state == "Trusted", failures(results)
    manifest = active(store)
    (created,) = actions(manifest)
    assert created["action"] == "c2pa.created"
    assert created["digitalSourceType"].endswith("/trainedAlgorithmicMedia")
    assert created["softwareAgent"] == {"name": "gpt-image-2", "version": "dep-eu"}
    assert manifest["signature_info"]["common_name"] == "Tenant A Content Credentials"
    assert manifest["claim_generator_info"][0]["organization"] == "Tenant A"
    # One source of truth: the XMP and the manifest's provenance assertion say the same thing.
    xmp = read_provenance(original)
    (provenance,) = [a["data"] for a in manifest["assertions"] if a["label"] == "dam.provenance"]
    assert xmp["Credit"] == provenance["credit_line"] == "Acme Studio"
    assert xmp["AISystemVersionUsed"] == provenance["ai_system_version"] == "dep-eu"
    assert xmp["source_type"] == provenance["source_type"] == "trainedAlgorithmicMedia"

    small = encode(Image.open(io.BytesIO(original)).convert("RGB").resize((320, 240)), "webp")
    rendition = sign_derived(
        provenance_stamp(small, image_format="webp", record=RECORD),
        image_format="webp",
        parent=original,
        parent_format=image_format,
        actions=["c2pa.resized", "c2pa.transcoded"],
        record=RECORD,
        tenant_id=tenant_a.pk,
    )
    state, results, store = read(rendition, "webp")
    assert state == "Trusted", failures(results)
    manifest = active(store)
    assert [a["action"] for a in actions(manifest)] == ["c2pa.opened", "c2pa.resized", "c2pa.transcoded"]
    (parent,) = manifest["ingredients"]
    assert parent["relationship"] == "parentOf" and parent["active_manifest"] in store["manifests"]


def test_the_provider_manifest_is_the_parent_ingredient_of_the_original(tenant_a, tenant_key):
    provider_ca = build_ca("Provider")
    provider_cert = issue_signing_cert(provider_ca, common_name="Azure OpenAI ImageGen")
    answer = signed_elsewhere(
        image_bytes("png"), "png", provider_cert, source_type="trainedAlgorithmicMedia", agent="Azure OpenAI ImageGen"
    )
    stamped = provenance_stamp(answer, image_format="png", record=RECORD)
    original = sign_original(stamped, image_format="png", record=RECORD, tenant_id=tenant_a.pk, provider_data=answer)
    state, results, store = read(original, "png", anchors=provider_ca.trust_anchors_pem)
    assert state == "Trusted", failures(results)
    manifest = active(store)
    (provider,) = manifest["ingredients"]
    assert provider["relationship"] == "parentOf"
    upstream = store["manifests"][provider["active_manifest"]]
    assert upstream["signature_info"]["common_name"] == "Azure OpenAI ImageGen"
    assert actions(manifest)[0]["parameters"]["ingredients"], "c2pa.created names the provider's answer"
    assert "signingCredential.trusted" in delta_codes(results)  # the provider's link, under its root
    # Without the provider's root our manifest is still trusted, the provider's link no longer is.
    state, results, _ = read(original, "png")
    assert state == "Trusted"
    assert "ingredient.manifest.validated" in delta_codes(results)
    assert "signingCredential.trusted" not in delta_codes(results)


def test_a_byte_changed_in_a_signed_file_fails_validation(tenant_a, tenant_key):
    signed = sign_original(
        provenance_stamp(image_bytes("jpeg"), image_format="jpeg", record=RECORD),
        image_format="jpeg",
        record=RECORD,
        tenant_id=tenant_a.pk,
    )
    tampered = bytearray(signed)
    tampered[-200] ^= 0x01  # in the entropy-coded picture, far from the manifest
    state, results, _ = read(bytes(tampered), "jpeg")
    assert state == "Invalid"
    assert "assertion.dataHash.mismatch" in failures(results)


def test_an_upload_is_signed_and_keeps_its_own_manifest_as_ingredient(tenant_a, tenant_key):
    camera_ca = build_ca("Camera Maker")
    camera = issue_signing_cert(camera_ca, common_name="Camera 1")
    # A camera's signed photo (signed here with c2pa directly, as a device would).
    photo = image_bytes("jpeg", (800, 600))
    signed_photo = signed_elsewhere(photo, "jpeg", camera, source_type="digitalCapture")

    result = asset_upload(tenant=tenant_a, data=signed_photo, filename="photo.jpg")
    stored = blob_read(result.version.storage_key)
    state, results, store = read(stored, result.version.format, anchors=camera_ca.trust_anchors_pem)
    assert state == "Trusted", failures(results)
    ours = active(store)
    assert actions(ours)[0]["action"] == "c2pa.opened"
    (ingredient,) = ours["ingredients"]
    assert store["manifests"][ingredient["active_manifest"]]["signature_info"]["common_name"] == "Camera 1"

    # A plain upload (no manifest of its own) is signed as created, with its declared source type.
    plain = asset_upload(
        tenant=tenant_a, data=image_bytes("png"), filename="p.png", digital_source_type="digitalCapture"
    )
    state, results, store = read(blob_read(plain.version.storage_key), "png")
    assert state == "Trusted", failures(results)
    (created,) = actions(active(store))
    assert created["action"] == "c2pa.created" and created["digitalSourceType"].endswith("/digitalCapture")
    assert not active(store).get("ingredients")


def test_a_rendition_made_on_demand_is_signed_with_the_original_as_parent(tenant_a, tenant_key):
    version = make_version(tenant_a)
    rendition = rendition_get_or_create(version=version, spec="fill-400x400|format-webp")
    data = blob_read(rendition.storage_key)
    state, results, store = read(data, rendition.format)
    assert state == "Trusted", failures(results)
    manifest = active(store)
    assert actions(manifest)[0]["action"] == "c2pa.opened"
    assert "c2pa.resized" in [a["action"] for a in actions(manifest)]
    (parent,) = manifest["ingredients"]
    assert parent["relationship"] == "parentOf" and parent["format"] == FORMATS[version.format].content_type
    assert read_provenance(data)["AISystemUsed"] == version.model


def test_rotation_signs_with_the_new_key_and_old_files_still_verify(tenant_a, tenant_key):
    first_key, _ = tenant_key
    version = make_version(tenant_a)
    before = blob_read(rendition_get_or_create(version=version, spec="fill-400x400|format-webp").storage_key)

    second = issue_signing_cert(make_test_ca(), common_name="Tenant A 2027", organization="Tenant A")
    new_key = key_install(
        tenant_id=tenant_a.pk, certificate_chain_pem=second.chain_pem, private_key_pem=second.private_key_pem
    )
    first_key.refresh_from_db()
    assert not first_key.active and first_key.retired_at is not None and new_key.active
    assert signer_for(tenant_id=tenant_a.pk).key_id == new_key.pk

    other = make_version(tenant_a, title="after rotation")
    after = blob_read(rendition_get_or_create(version=other, spec="fill-400x400|format-webp").storage_key)
    for data, signer in ((before, "Tenant A Content Credentials"), (after, "Tenant A 2027")):
        state, results, store = read(data, "webp" if data[:4] == b"RIFF" else "jpeg")
        assert state == "Trusted", failures(results)
        assert active(store)["signature_info"]["common_name"] == signer


def test_a_tenant_without_a_key_is_signed_with_the_platform_key(tenant_a, tenant_b, tenant_key):
    platform = issue_signing_cert(make_test_ca(), common_name="DAM Platform")
    key_install(tenant_id=None, certificate_chain_pem=platform.chain_pem, private_key_pem=platform.private_key_pem)
    assert signer_for(tenant_id=tenant_b.pk).certificate_chain_pem == platform.chain_pem
    assert signer_for(tenant_id=tenant_a.pk).certificate_chain_pem == tenant_key[1].chain_pem
    signed = sign_original(image_bytes("png"), image_format="png", record=RECORD, tenant_id=tenant_b.pk)
    state, results, store = read(signed, "png")
    assert state == "Trusted", failures(results)
    manifest = active(store)
    assert manifest["signature_info"]["common_name"] == "DAM Platform"
    assert manifest["claim_generator_info"][0]["organization"] == "Tenant B"


def test_the_private_key_is_encrypted_at_rest(tenant_key):
    key, cert = tenant_key
    stored = SigningKey.unscoped.get(pk=key.pk)
    assert b"PRIVATE KEY" not in stored.private_key_encrypted.encode()
    assert decrypt_private_key(stored.private_key_encrypted) == cert.private_key_pem


def test_a_self_signed_or_mismatched_certificate_is_refused(tenant_a):
    ca = make_test_ca()
    with pytest.raises(ValueError, match="self-signed"):
        check_end_entity(ca.trust_anchors_pem)
    one, two = cached_signing_cert("one"), cached_signing_cert("two")
    with pytest.raises(ValueError, match="does not belong"):
        key_install(tenant_id=tenant_a.pk, certificate_chain_pem=one.chain_pem, private_key_pem=two.private_key_pem)
    assert not SigningKey.unscoped.filter(tenant_id=tenant_a.pk).exists()


def test_a_kms_key_signs_through_the_registered_callback(tenant_a):
    cert = issue_signing_cert(make_test_ca(), common_name="HSM key")
    hsm = serialization.load_pem_private_key(cert.private_key_pem, None)
    calls = []

    def factory(uri: str):
        def sign(data: bytes) -> bytes:
            calls.append(uri)
            return hsm.sign(data, ec.ECDSA(hashes.SHA256()))

        return sign

    register_remote_signer("testhsm", factory)
    key_install(
        tenant_id=tenant_a.pk, certificate_chain_pem=cert.chain_pem, kms_key_uri="testhsm://slot/7", algorithm="es256"
    )
    material = signer_for(tenant_id=tenant_a.pk)
    assert isinstance(material, SignerMaterial) and material.algorithm == "es256"
    signed = sign_original(image_bytes("png"), image_format="png", record=RECORD, tenant_id=tenant_a.pk)
    assert calls == ["testhsm://slot/7"]
    state, results, _ = read(signed, "png")
    assert state == "Trusted", failures(results)
    assert SigningKey.unscoped.get(tenant_id=tenant_a.pk).private_key_encrypted == ""


def test_an_edit_opens_its_parent_version_and_is_an_ai_edit(tenant_a, tenant_key):
    parent = make_version(tenant_a, generated=False)
    parent_bytes = blob_read(parent.storage_key)
    record = ProvenanceRecord(source_type="compositeWithTrainedAlgorithmicMedia", ai_system="gpt-image-2")
    edited = sign_original(
        provenance_stamp(image_bytes("png"), image_format="png", record=record),
        image_format="png",
        record=record,
        tenant_id=tenant_a.pk,
        edit_of=parent_bytes,
        edit_of_format=parent.format,
    )
    state, results, store = read(edited, "png")
    assert state == "Trusted", failures(results)
    manifest = active(store)
    opened, edit = actions(manifest)
    assert opened["action"] == "c2pa.opened" and edit["action"] == "c2pa.edited"
    assert edit["digitalSourceType"].endswith("/compositeWithTrainedAlgorithmicMedia")
    (ingredient,) = manifest["ingredients"]
    assert ingredient["relationship"] == "parentOf"
    assert AssetVersion.objects.for_tenant(tenant_a).filter(pk=parent.pk).exists()


def test_create_signing_key_issues_from_the_dev_ca_and_rotates(tenant_a):
    out = io.StringIO()
    call_command("create_signing_key", "tenant-a", stdout=out)
    call_command("create_signing_key", "tenant-a", "--if-missing", stdout=out, stderr=io.StringIO())
    first = SigningKey.unscoped.get(tenant_id=tenant_a.pk)
    assert first.active and first.issuer.endswith("Intermediate CA") and first.subject.startswith("Tenant A")
    call_command("create_signing_key", "tenant-a", stdout=out)
    keys = list(SigningKey.unscoped.filter(tenant_id=tenant_a.pk).order_by("pk"))
    assert [k.active for k in keys] == [False, True] and keys[0].retired_at is not None
    with pytest.raises(CommandError, match="tenant slug or --platform"):
        call_command("create_signing_key", stdout=out)


def test_a_placement_recut_by_the_checks_is_signed_as_a_cut_of_the_original(tenant_a, tenant_key):
    from dam.services.checks import _recut
    from tenants.services import placement_create

    placement = placement_create(tenant=tenant_a, slug="banner", width=300, height=100, output_format="jpeg")
    original = sign_original(
        provenance_stamp(image_bytes("png", (960, 540)), image_format="png", record=RECORD),
        image_format="png",
        record=RECORD,
        tenant_id=tenant_a.pk,
    )
    version = make_version(tenant_a, data=original)
    steps = [
        {"op": "crop", "box": {"left": 0, "top": 100, "right": 960, "bottom": 420}},
        {"op": "scale", "size": {"width": 300, "height": 100}},
    ]
    recut = _recut(version, placement, original, steps, None)
    state, results, store = read(blob_read(recut.blob.key), "jpeg")
    assert state == "Trusted", failures(results)
    manifest = active(store)
    steps_done = [a["action"] for a in actions(manifest)]
    assert steps_done == ["c2pa.opened", "c2pa.cropped", "c2pa.resized", "c2pa.transcoded"]
    (parent,) = manifest["ingredients"]
    assert actions(store["manifests"][parent["active_manifest"]])[0]["action"] == "c2pa.created"


def with_broken_manifest(png: bytes) -> bytes:
    """A PNG carrying a caBX chunk that looks like a C2PA store but is cut short (what a hostile upload may hold)."""
    body = b"\x00\x00\x00\x20jumb\x00\x00\x00\x18jumdc2pa" + b"\x00" * 20
    chunk = struct.pack(">I", len(body)) + b"caBX" + body + struct.pack(">I", zlib.crc32(b"caBX" + body))
    return png[:33] + chunk + png[33:]


def test_a_broken_manifest_in_a_provider_answer_or_an_upload_is_dropped_not_fatal(tenant_a, tenant_key):
    broken = with_broken_manifest(image_bytes("png"))
    original = sign_original(
        image_bytes("png"), image_format="png", record=RECORD, tenant_id=tenant_a.pk, provider_data=broken
    )
    state, results, store = read(original, "png")
    assert state == "Trusted", failures(results)
    manifest = active(store)
    assert not manifest.get("ingredients")
    (provenance,) = [a["data"] for a in manifest["assertions"] if a["label"] == "dam.provenance"]
    assert provenance["rejected_ingredient"].startswith("provider output:")

    uploaded = asset_upload(tenant=tenant_a, data=broken, filename="broken.png")
    state, results, store = read(blob_read(uploaded.version.storage_key), "png")
    assert state == "Trusted", failures(results)
    assert actions(active(store))[0]["action"] == "c2pa.created"
