"""The asset page's Content Credentials panel in the browser: the original's report with the page, each rendition's
loaded by htmx when the panel comes into view (CSP allows no inline script or style), at 1440 and 390 px with
nothing wider than the screen. Screenshots land in artifacts/screenshots."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from dam.blobs import blob_put
from dam.services.assets import asset_create, asset_version_create
from dam.services.renditions import rendition_create
from tests.support.browser import log_in, screenshot
from tests.support.c2pa_ca import build_ca, issue_signing_cert, make_test_ca
from tests.support.c2pa_images import sign_image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password"
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def _picture(size: tuple[int, int], image_format: str) -> bytes:
    image = Image.new("RGB", size, (16, 90, 140))
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse((w // 2, h // 8, w - w // 10, h - h // 4), fill=(250, 190, 40))
    draw.rectangle((w // 12, h - h // 3, w // 2, h - h // 8), fill=(240, 240, 235))
    out = io.BytesIO()
    image.save(out, format={"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "avif": "AVIF"}[image_format])
    return out.getvalue()


def _store(tenant, original: bytes, renditions: list[tuple[str, bytes, str]]):
    blob = blob_put(tenant_id=tenant.pk, kind="originals", data=original, image_format="png")
    asset = asset_create(tenant=tenant, title="Autumn sale hero", source="generated")
    version = asset_version_create(asset=asset, blob=blob, width=960, height=600, image_format="png")
    for spec, data, image_format in renditions:
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


@pytest.fixture
def signed_in_page(page, alice, tmp_path, settings):
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(make_test_ca().trust_anchors_pem)
    settings.C2PA_TRUST_ANCHORS = str(anchors)
    alice.user.set_password(PASSWORD)
    alice.user.save()
    log_in(page, alice.user.get_username(), PASSWORD)
    return page


def _all_loaded(page) -> None:
    """Scroll each rendition's placeholder into view (htmx loads it when revealed) until none is left."""
    panel = page.locator("#credentials")
    waiting = panel.locator("[data-credentials-file][hx-get]")
    for _ in range(40):
        if waiting.count() == 0:
            break
        page.evaluate("() => document.querySelector('#credentials [data-credentials-file][hx-get]')?.scrollIntoView()")
        page.wait_for_timeout(150)
    expect(panel.locator("[data-credentials-state]")).to_have_count(panel.locator("[data-credentials-file]").count())


def test_the_credentials_panel_at_desktop_and_phone_widths(signed_in_page, alice):
    page = signed_in_page
    brand = issue_signing_cert(make_test_ca(), common_name="Tenant A Content Signing", organization="Tenant A")
    provider = issue_signing_cert(build_ca("Image Provider"), common_name="ImageGen", organization="Image Provider")
    answer = sign_image(_picture((960, 600), "png"), image_format="png", cert=provider, title="AI Generated Image")
    original = sign_image(
        _picture((960, 600), "png"),
        image_format="png",
        cert=brand,
        title="autumn-sale-hero.png",
        parent=(answer, "png"),
        parent_title="AI Generated Image",
        actions=[{"action": "c2pa.edited"}],
    )

    def derived(size, image_format, title, steps):
        return sign_image(
            _picture(size, image_format),
            image_format=image_format,
            cert=brand,
            title=title,
            parent=(original, "png"),
            parent_title="autumn-sale-hero.png",
            actions=[{"action": step} for step in steps],
        )

    tampered = bytearray(derived((320, 200), "jpeg", "hero-320.jpg", ["c2pa.resized", "c2pa.transcoded"]))
    tampered[-10] ^= 0x01  # the JPEG's scan data (its manifest is at the start): a data hash mismatch
    version = _store(
        alice.tenant,
        original,
        [
            ("placement:pdp-square", derived((600, 600), "jpeg", "pdp-square.jpg", ["c2pa.cropped"]), "jpeg"),
            ("placement:leaderboard", derived((728, 90), "webp", "leaderboard.webp", ["c2pa.cropped"]), "webp"),
            ("width-320|format-jpeg", bytes(tampered), "jpeg"),
            ("width-480|format-avif", _picture((480, 300), "avif"), "avif"),
        ],
    )
    page.goto(f"/admin/dam/asset/{version.asset_id}/change/")
    panel = page.locator("#credentials")
    expect(panel).to_contain_text("Content Credentials")
    original_row = panel.locator('[data-credentials-file="original"]')
    expect(original_row.locator("[data-credentials-state]")).to_have_attribute("data-credentials-state", "trusted")
    expect(original_row).to_contain_text("Tenant A")
    expect(original_row).to_contain_text("AI Generated Image")
    _all_loaded(page)
    states = {
        row.get_attribute("data-credentials-file"): row.locator("[data-credentials-state]").get_attribute(
            "data-credentials-state"
        )
        for row in panel.locator("[data-credentials-file]").all()
    }
    stored = {
        "original": "trusted",
        "placement:leaderboard": "trusted",
        "placement:pdp-square": "trusted",
        "width-320|format-jpeg": "invalid",
        "width-480|format-avif": "absent",
    }
    assert {name: state for name, state in states.items() if name in stored} == stored
    # The standing worker may cut the version's up-front renditions meanwhile (its commit queues them): signed by
    # the platform's key, each is valid or trusted, never a state of the files above.
    assert all(state in ("valid", "trusted") for name, state in states.items() if name not in stored), states
    # The changed byte is named by what failed (a hash or the signature), not by a count of checks passed.
    failures = panel.locator('[data-credentials-file="width-320|format-jpeg"] [data-credentials-failures]')
    expect(failures).to_contain_text("mismatch")
    panel.scroll_into_view_if_needed()
    screenshot(page, "credentials-asset-page-1440")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    _all_loaded(page)
    assert page.evaluate(OVERFLOW) <= 0
    box = panel.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    for row in panel.locator("[data-credentials-file]").all():
        row_box = row.bounding_box()
        assert row_box["x"] + row_box["width"] <= box["x"] + box["width"] + 0.5, row_box
    panel.scroll_into_view_if_needed()
    screenshot(page, "credentials-asset-page-390")
