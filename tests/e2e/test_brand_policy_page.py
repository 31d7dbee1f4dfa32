"""The staff brand policy page's check settings in a browser: a tenant admin sets the palette tolerance and the
lowest contrast, uploads a logo, saves, and sees the new version with the logo's preview; at phone width
nothing scrolls sideways."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from tenants.models import BrandPolicy
from tests.support.browser import images_loaded, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BRAND_PAGE = "/admin/governance/policies/brand/"
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def _logo_file(tmp_path) -> str:
    logo = Image.new("RGBA", (600, 240), (0, 0, 0, 0))
    draw = ImageDraw.Draw(logo)
    draw.rounded_rectangle((4, 4, 596, 236), radius=36, fill=(16, 32, 96, 255))
    draw.polygon([(40, 200), (120, 40), (200, 200)], fill=(255, 196, 0, 255))
    out = io.BytesIO()
    logo.save(out, format="PNG")
    path = tmp_path / "logo.png"
    path.write_bytes(out.getvalue())
    return str(path)


@pytest.mark.parametrize("width", [1440, 390])
def test_an_admin_sets_check_settings_and_uploads_a_logo(page, alice, tmp_path, width):
    alice.user.set_password("a-long-test-password")
    alice.user.save()
    log_in(page, alice.user.get_username(), "a-long-test-password")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(BRAND_PAGE)
    assert page.locator("#logo-preview").inner_text().startswith("No logo")

    page.get_by_label("Palette colour tolerance (ΔE)").fill("9.5")
    page.get_by_label("Lowest text contrast").fill("7")
    page.get_by_label("When the text does not match").select_option("block")
    page.get_by_label("Logo", exact=True).set_input_files(_logo_file(tmp_path))
    page.locator("#save-policy").click()
    page.wait_for_url(f"**{BRAND_PAGE}")

    policy = BrandPolicy.objects.for_tenant(alice.tenant).get()
    assert (policy.palette_max_delta_e, policy.legibility_min_contrast) == (pytest.approx(9.5), pytest.approx(7))
    assert policy.copy_mismatch_action == "block" and policy.logo is not None
    images_loaded(page, "#logo-preview img")
    assert "600 x 240 PNG" in page.locator("#logo-preview").inner_text()
    assert page.get_by_label("Palette colour tolerance (ΔE)").input_value() == "9.5"
    assert page.evaluate(OVERFLOW) <= 1
    page.locator("#brand-checks").scroll_into_view_if_needed()
    screenshot(page, f"brand-policy-checks-{width}")
