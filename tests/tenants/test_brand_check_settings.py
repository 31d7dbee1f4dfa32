"""Brand policy settings of the brand checks (issue 18): the API round trip, range checks naming the field,
the logo (upload, validation, read back, carried by later versions), placements' smallest copy height and the
staff brand policy page."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from PIL import Image

from governance.models import AuditEvent
from tenants.models import BrandLogo, BrandPolicy, Placement
from tenants.services import brand_policy_update
from tenants.services.brand import LOGO_MAX_BYTES, logo_validate
from tests.support.errors import error_codes, names_field

pytestmark = pytest.mark.django_db

CURRENT = "/api/v1/brand-policy/current"
LOGO = "/api/v1/brand-policy/logo"
BRAND_PAGE = "/admin/governance/policies/brand/"


def _image_bytes(image_format: str = "PNG", size=(120, 48), colour=(20, 40, 90), **params) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format=image_format, **params)
    return out.getvalue()


def _png_declaring(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG whose header declares width x height (the pixels are never there)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def _upload(api, data: bytes, name: str = "logo.png"):
    upload = io.BytesIO(data)
    upload.name = name
    return api.put(LOGO, {"logo": upload}, format="multipart")


def test_a_first_version_has_the_documented_defaults(alice):
    body = alice.client().put(CURRENT, {"style_guide": "Warm light."}, format="json").json()

    assert body["copy_check"] is True
    assert body["copy_mismatch_action"] == "review"
    assert Decimal(body["copy_near_cer"]) == Decimal("0.10")
    assert Decimal(body["palette_max_delta_e"]) == Decimal("12")
    assert Decimal(body["palette_min_score"]) == Decimal("0.6")
    assert Decimal(body["legibility_min_contrast"]) == Decimal("4.5")
    assert Decimal(body["logo_min_width_share"]) == Decimal("0.05")
    assert body["logo"] is None


def test_check_settings_round_trip_through_the_api(alice):
    api = alice.client()
    api.put(CURRENT, {"style_guide": "Warm light."}, format="json")
    settings = {
        "copy_check": False,
        "copy_mismatch_action": "block",
        "copy_near_cer": "0.150",
        "palette_max_delta_e": "8.5",
        "palette_min_score": "0.750",
        "legibility_min_contrast": "7.00",
        "logo_min_width_share": "0.120",
    }
    changed = api.patch(CURRENT, settings, format="json")

    assert changed.status_code == 201, changed.content
    body = api.get(CURRENT).json()
    assert body["version"] == 2
    assert {name: body[name] for name in settings} == settings
    assert body["style_guide"] == "Warm light."  # the rest carried over
    stored = BrandPolicy.objects.for_tenant(alice.tenant).get(version=2)
    assert stored.palette_max_delta_e == Decimal("8.5") and stored.copy_mismatch_action == "block"
    first = BrandPolicy.objects.for_tenant(alice.tenant).get(version=1)
    assert first.copy_check is True and first.palette_max_delta_e == Decimal("12.0")  # v1 untouched
    event = AuditEvent.objects.for_tenant(alice.tenant).filter(action="policy.updated").order_by("-seq").first()
    assert event.payload["after"]["palette_max_delta_e"] == "8.5"
    assert event.payload["before"]["palette_max_delta_e"] == "12.0"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("copy_near_cer", "0.6", "max_value"),
        ("copy_near_cer", "-0.1", "min_value"),
        ("palette_max_delta_e", "0.5", "min_value"),
        ("palette_max_delta_e", "51", "max_value"),
        ("palette_min_score", "1.5", "max_value"),
        ("legibility_min_contrast", "0.9", "min_value"),
        ("legibility_min_contrast", "22", "max_value"),
        ("logo_min_width_share", "0.005", None),  # also past the column's places: either rule names the field
        ("logo_min_width_share", "1.5", "max_value"),
        ("copy_mismatch_action", "ignore", "invalid_choice"),
        ("copy_check", "maybe", "invalid"),
        ("palette_max_delta_e", "lots", "invalid"),
    ],
)
def test_out_of_range_settings_are_400_naming_the_field_and_rule(alice, field, value, code):
    response = alice.client().patch(CURRENT, {field: value}, format="json")

    assert response.status_code == 400 and names_field(response, field)
    if code:
        assert code in error_codes(response)
    assert not BrandPolicy.objects.for_tenant(alice.tenant).exists()


def test_the_service_checks_the_ranges_too(alice):
    # The staff page calls the service directly: the same ranges hold there.
    with pytest.raises(ValidationError) as raised:
        brand_policy_update(tenant=alice.tenant, palette_min_score=Decimal("2"), legibility_min_contrast="x")
    assert set(raised.value.message_dict) == {"palette_min_score", "legibility_min_contrast"}
    assert raised.value.error_dict["palette_min_score"][0].code == "max_value"
    policy = brand_policy_update(tenant=alice.tenant, copy_near_cer="0.1234")
    assert policy.copy_near_cer == Decimal("0.123")  # kept at the column's places


def test_a_logo_upload_makes_a_version_later_versions_carry_it_and_removal_makes_another(alice):
    api = alice.client()
    api.put(CURRENT, {"style_guide": "Warm light."}, format="json")
    png = _image_bytes("PNG")

    uploaded = _upload(api, png)

    assert uploaded.status_code == 201, uploaded.content
    body = uploaded.json()
    assert body["version"] == 2
    logo = body["logo"]
    assert logo["sha256"] == hashlib.sha256(png).hexdigest()
    assert (logo["content_type"], logo["width"], logo["height"], logo["size"]) == ("image/png", 120, 48, len(png))
    fetched = api.get(logo["url"])
    assert fetched.status_code == 200 and fetched["Content-Type"] == "image/png"
    assert fetched.content == png and fetched["ETag"] == f'"{logo["sha256"]}"'

    # A change of anything else is a new version that keeps the logo (the same stored row, not a copy).
    edited = api.patch(CURRENT, {"palette_min_score": "0.5"}, format="json").json()
    assert edited["version"] == 3 and edited["logo"]["sha256"] == logo["sha256"]
    assert BrandLogo.objects.for_tenant(alice.tenant).count() == 1
    listed = api.get("/api/v1/brand-policy").json()["results"]
    assert [(v["version"], bool(v["logo"])) for v in listed] == [(3, True), (2, True), (1, False)]

    removed = api.delete(LOGO)
    assert removed.status_code == 201 and removed.json()["version"] == 4 and removed.json()["logo"] is None
    v4 = api.get(CURRENT).json()
    assert v4["logo"] is None and v4["palette_min_score"] == "0.500"
    assert api.get(f"/api/v1/brand-policy/{v4['id']}/logo").status_code == 404
    assert api.get(logo["url"]).content == png  # the version that had it still has it


@pytest.mark.parametrize(("image_format", "content_type"), [("JPEG", "image/jpeg"), ("WEBP", "image/webp")])
def test_jpeg_and_webp_logos_are_accepted(alice, image_format, content_type):
    response = _upload(alice.client(), _image_bytes(image_format), name=f"logo.{image_format.lower()}")
    assert response.status_code == 201, response.content
    assert response.json()["logo"]["content_type"] == content_type


def _animated_png() -> bytes:
    out = io.BytesIO()
    frames = [Image.new("RGB", (20, 20), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(out, format="PNG", save_all=True, append_images=frames[1:])
    return out.getvalue()


def _too_large_png() -> bytes:
    noise = Image.frombytes("RGB", (1100, 1100), hashlib.shake_256(b"noise").digest(1100 * 1100 * 3))
    out = io.BytesIO()
    noise.save(out, format="PNG", compress_level=1)
    data = out.getvalue()
    assert len(data) > LOGO_MAX_BYTES
    return data


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: b"%PDF-1.7 not an image at all", "invalid_image"),
        (lambda: _image_bytes("GIF"), "invalid_image"),
        (lambda: _image_bytes("PNG", size=(400, 400))[:300], "invalid_image"),  # truncated
        (lambda: _png_declaring(5000, 5000), "too_many_pixels"),  # 25 MP: our own limit
        (lambda: _png_declaring(30000, 30000), "too_many_pixels"),  # 900 MP: Pillow's bomb error
        (_animated_png, "animated"),
        (_too_large_png, "file_too_large"),
        (lambda: b"", "empty"),
    ],
    ids=["pdf", "gif", "truncated", "25mp", "bomb", "animated", "over-2mb", "empty"],
)
def test_a_bad_logo_is_400_naming_the_field_and_rule_and_makes_no_version(alice, make, code):
    api = alice.client()
    api.put(CURRENT, {"style_guide": "Warm light."}, format="json")

    response = _upload(api, make())

    assert response.status_code == 400, response.content
    assert names_field(response, "logo") and code in error_codes(response), response.json()
    assert BrandPolicy.objects.for_tenant(alice.tenant).count() == 1
    assert not BrandLogo.objects.for_tenant(alice.tenant).exists()


def test_logo_validate_reads_what_pillow_reads():
    logo = logo_validate(_image_bytes("WEBP", size=(90, 30)))
    assert (logo.format, logo.width, logo.height) == ("webp", 90, 30)


def test_the_logo_is_not_set_through_the_policy_body(alice):
    response = alice.client().patch(CURRENT, {"logo": "aGVsbG8="}, format="json")
    assert response.status_code == 400 and names_field(response, "logo") and "read_only" in error_codes(response)
    assert not BrandPolicy.objects.for_tenant(alice.tenant).exists()


def test_a_logo_upload_needs_a_file(alice):
    response = alice.client().put(LOGO, {}, format="multipart")
    assert response.status_code == 400 and names_field(response, "logo")


def test_only_admins_change_the_logo(alice, bob):
    brand_policy_update(tenant=alice.tenant, logo=_image_bytes("PNG"))
    api = bob.client()
    assert _upload(api, _image_bytes("PNG", colour=(1, 2, 3))).status_code == 403
    assert api.delete(LOGO).status_code == 403
    policy = BrandPolicy.objects.for_tenant(alice.tenant).get()
    # Reading it is for every member, as reading the policy is.
    assert api.get(f"/api/v1/brand-policy/{policy.pk}/logo").status_code == 200


def test_placements_carry_the_smallest_copy_height(alice):
    api = alice.client()
    made = api.post("/api/v1/placements", {"slug": "hero", "width": 1200, "height": 628}, format="json")
    assert made.status_code == 201 and made.json()["min_text_height"] == 12
    pk = made.json()["id"]
    assert api.patch(f"/api/v1/placements/{pk}", {"min_text_height": 24}, format="json").json()["min_text_height"] == 24
    for bad in (3, 201, "big"):
        refused = api.patch(f"/api/v1/placements/{pk}", {"min_text_height": bad}, format="json")
        assert refused.status_code == 400 and names_field(refused, "min_text_height"), bad
    too_small = api.post(
        "/api/v1/placements", {"slug": "tiny", "width": 100, "height": 100, "min_text_height": 2}, format="json"
    )
    assert too_small.status_code == 400 and names_field(too_small, "min_text_height")
    assert Placement.objects.for_tenant(alice.tenant).get().min_text_height == 24


# --- the staff brand policy page -------------------------------------------------------------------------


PAGE_FORM = {
    "style_guide": "Soft daylight",
    "banned_terms": "",
    "palette": "#0f172a",
    "default_quality": "high",
    "default_output_format": "png",
    "default_locales": "en",
    "review_required": "on",
    "copy_check": "on",
    "copy_mismatch_action": "block",
    "copy_near_cer": "0.05",
    "palette_max_delta_e": "10",
    "palette_min_score": "0.7",
    "legibility_min_contrast": "4.5",
    "logo_min_width_share": "0.08",
}


def _staff(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_staff_page_saves_the_check_settings_and_a_logo_and_previews_it(alice):
    client = _staff(alice.user)
    png = _image_bytes("PNG", size=(600, 240))
    upload = io.BytesIO(png)
    upload.name = "logo.png"

    assert client.post(BRAND_PAGE, {**PAGE_FORM, "logo": upload}).status_code == 302

    policy = BrandPolicy.objects.for_tenant(alice.tenant).get()
    assert policy.copy_mismatch_action == "block" and policy.copy_near_cer == Decimal("0.05")
    assert policy.logo.sha256 == hashlib.sha256(png).hexdigest()
    page = client.get(BRAND_PAGE)
    html = page.content.decode()
    assert 'id="id_palette_max_delta_e"' in html and "CIEDE2000" in html
    assert 'enctype="multipart/form-data"' in html
    assert '<img src="data:image/png;base64,' in html and "600 x 240 PNG" in html
    # The same values again: no new version; the logo stays without being sent again.
    assert client.post(BRAND_PAGE, PAGE_FORM).status_code == 302
    assert BrandPolicy.objects.for_tenant(alice.tenant).count() == 1

    assert client.post(BRAND_PAGE, {**PAGE_FORM, "remove_logo": "on"}).status_code == 302
    latest = BrandPolicy.objects.for_tenant(alice.tenant).order_by("-version").first()
    assert latest.version == 2 and latest.logo is None
    assert "No logo" in client.get(BRAND_PAGE).content.decode()


def test_the_staff_page_refuses_out_of_range_values_and_bad_logos_naming_the_field(alice):
    client = _staff(alice.user)
    refused = client.post(BRAND_PAGE, {**PAGE_FORM, "legibility_min_contrast": "30"})
    assert refused.status_code == 400 and "legibility_min_contrast" in refused.content.decode()
    upload = io.BytesIO(b"GIF89a not really")
    upload.name = "logo.gif"
    bad_logo = client.post(BRAND_PAGE, {**PAGE_FORM, "logo": upload})
    assert bad_logo.status_code == 400 and "not a readable PNG, JPEG or WebP image" in bad_logo.content.decode()
    assert not BrandPolicy.objects.for_tenant(alice.tenant).exists()


def test_the_staff_placement_form_sets_the_smallest_copy_height(alice):
    client = _staff(alice.user)
    form = {"slug": "story", "name": "Story", "width": 1080, "height": 1920, "output_format": "jpeg"}

    too_small = client.post("/admin/tenants/placement/add/", {**form, "compression": 85, "min_text_height": 2})
    assert too_small.status_code == 200 and "min_text_height" in too_small.context["adminform"].form.errors
    assert not Placement.objects.for_tenant(alice.tenant).exists()

    added = client.post("/admin/tenants/placement/add/", {**form, "compression": 85, "min_text_height": 28})
    assert added.status_code == 302, added.content[:500]
    assert Placement.objects.for_tenant(alice.tenant).get(slug="story").min_text_height == 28
    page = client.get(f"/admin/tenants/placement/{Placement.objects.for_tenant(alice.tenant).get().pk}/change/")
    assert "Smallest copy height (px)" in page.content.decode()
