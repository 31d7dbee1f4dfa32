"""Provenance XMP, read back from the stored bytes of originals and renditions in every format."""

from __future__ import annotations

import io

import pytest
import pyvips
from PIL import Image

from dam.blobs import blob_put, blob_read
from dam.provenance import (
    IPTC_SOURCE_TYPE_BASE,
    ProvenanceRecord,
    parse_xmp,
    provenance_for_generated_output,
    provenance_stamp,
    read_provenance,
    xmp_packet,
)
from dam.services.assets import asset_create, asset_version_create
from dam.services.renditions import rendition_get_or_create
from dam.services.settings import library_settings_for, library_settings_update
from tenants.services import placement_create
from tests.factories import encode, make_version, marked_image

pytestmark = pytest.mark.django_db
PROMPT = 'Summer sale <50% off> & "free" shipping, 夏のセール'


def _pillow_xmp(data: bytes) -> dict[str, str]:
    """An independent reader: Pillow's own XMP extraction per format."""
    image = Image.open(io.BytesIO(data))
    image.load()
    packet = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
    return parse_xmp(packet.encode() if isinstance(packet, str) else packet)


def _vips_xmp(data: bytes) -> dict[str, str]:
    """A third reader: libvips' loaders."""
    return parse_xmp(pyvips.Image.new_from_buffer(data, "").get("xmp-data"))


@pytest.fixture
def branded(tenant_a):
    library_settings_update(tenant=tenant_a, credit_line="Acme Studio", copyright_notice="© 2026 Acme Inc.")
    return tenant_a


def _generated_original(tenant, *, image_format: str = "png", edit_of_upload: bool = False, asset=None):
    """What the generation pipeline stores: the provider's bytes stamped, then the version row."""
    record = provenance_for_generated_output(
        settings=library_settings_for(tenant=tenant),
        model="gpt-image-2",
        deployment="gpt-image-2-eu",
        prompt=PROMPT,
        edit_of_upload=edit_of_upload,
    )
    provider_bytes = encode(marked_image(1024, 768), {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[image_format])
    stamped = provenance_stamp(provider_bytes, image_format=image_format, record=record)
    blob = blob_put(tenant_id=tenant.pk, kind="originals", data=stamped, image_format=image_format)
    asset = asset or asset_create(tenant=tenant, title="generated", source="generated")
    version = asset_version_create(
        asset=asset,
        blob=blob,
        width=1024,
        height=768,
        image_format=image_format,
        job_id=77,
        provider_request_id=f"req-{image_format}-{edit_of_upload}",
        model="gpt-image-2",
        deployment="gpt-image-2-eu",
        compiled_prompt=PROMPT,
    )
    return version, provider_bytes


@pytest.mark.parametrize("image_format", ["png", "jpeg", "webp"])
def test_a_generated_original_carries_its_provenance_and_keeps_its_pixels(branded, image_format):
    version, provider_bytes = _generated_original(branded, image_format=image_format)
    stored = blob_read(version.storage_key)
    for fields in (read_provenance(stored), _pillow_xmp(stored), _vips_xmp(stored)):
        assert fields["DigitalSourceType"] == IPTC_SOURCE_TYPE_BASE + "trainedAlgorithmicMedia"
        assert fields["AISystemUsed"] == "gpt-image-2" and fields["AISystemVersionUsed"] == "gpt-image-2-eu"
        assert fields["Credit"] == "Acme Studio" and fields["rights"] == "© 2026 Acme Inc."
        assert "AIPromptInformation" not in fields  # the tenant did not allow prompts in files
    original = Image.open(io.BytesIO(provider_bytes)).convert("RGB")
    assert Image.open(io.BytesIO(stored)).convert("RGB").tobytes() == original.tobytes()


@pytest.mark.parametrize(
    "spec", ["width-800|format-webp", "width-800|format-avif", "max-1600x1600|format-jpeg", "placement:banner"]
)
def test_each_rendition_of_a_generated_version_carries_the_same_provenance(branded, spec):
    placement_create(tenant=branded, slug="banner", width=970, height=250, output_format="png")
    library_settings_update(tenant=branded, include_prompt_in_provenance=True)
    version, _ = _generated_original(branded)
    stored = blob_read(rendition_get_or_create(version=version, spec=spec).storage_key)
    readers = [read_provenance(stored), _pillow_xmp(stored)]
    if not spec.endswith("avif"):
        readers.append(_vips_xmp(stored))
    for fields in readers:
        assert fields["DigitalSourceType"].endswith("/trainedAlgorithmicMedia"), spec
        assert fields["AISystemUsed"] == "gpt-image-2" and fields["Credit"] == "Acme Studio"
        assert fields["AIPromptInformation"] == PROMPT  # allowed now, and escaped on the way in


def test_an_ai_edit_of_an_uploaded_photo_is_a_composite(branded):
    photo = make_version(branded, generated=False, digital_source_type="digitalCapture")
    edit, _ = _generated_original(branded, edit_of_upload=True, asset=photo.asset)
    assert read_provenance(blob_read(edit.storage_key))["source_type"] == "compositeWithTrainedAlgorithmicMedia"
    rendition = rendition_get_or_create(version=edit, spec="width-800|format-webp")
    assert read_provenance(blob_read(rendition.storage_key))["source_type"] == "compositeWithTrainedAlgorithmicMedia"
    # The uploaded original's own renditions keep the type its uploader declared, with no AI system named.
    photo_rendition = read_provenance(
        blob_read(rendition_get_or_create(version=photo, spec="width-800|format-webp").storage_key)
    )
    assert photo_rendition["source_type"] == "digitalCapture" and "AISystemUsed" not in photo_rendition


def test_stamping_twice_replaces_the_packet_and_a_long_prompt_still_fits_a_jpeg():
    jpeg = encode(marked_image(), "JPEG")
    once = provenance_stamp(jpeg, image_format="jpeg", record=ProvenanceRecord(source_type="digitalCapture"))
    twice = provenance_stamp(once, image_format="jpeg", record=ProvenanceRecord(prompt="x" * 100_000))
    assert twice.count(b"http://ns.adobe.com/xap/1.0/\x00") == 1
    fields = read_provenance(twice)
    assert "DigitalSourceType" not in fields and len(fields["AIPromptInformation"]) == 16_000
    assert Image.open(io.BytesIO(twice)).size == Image.open(io.BytesIO(jpeg)).size


def test_the_packet_is_well_formed_xmp_with_the_iptc_namespaces():
    packet = xmp_packet(ProvenanceRecord(source_type="trainedAlgorithmicMedia", ai_system="gpt-image-2"))
    assert packet.startswith(b"<?xpacket begin=") and packet.endswith(b'<?xpacket end="w"?>')
    assert b'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"' in packet
    assert parse_xmp(packet) == {
        "DigitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
        "AISystemUsed": "gpt-image-2",
    }
