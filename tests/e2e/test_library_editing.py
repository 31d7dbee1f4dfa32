"""Bulk work and metadata editing in the staff UI, in Chromium: shift-select a range of the asset browser, tag it
and move it to a collection; on an asset page edit the title and set the focal point by clicking the image.
Screenshots of the browser with a selection and of the asset page's editing, at 1440 and 390 px."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from dam.models import Asset
from dam.services.metadata import collection_create
from dam.services.renditions import rendition_get_or_create
from tenants.services import placement_create
from tests.factories import make_version
from tests.support.browser import images_loaded, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""
TITLES = ["Trail shoe", "Rain jacket", "Dome tent", "Head torch", "Camp stove", "Water bottle"]


@pytest.fixture
def library(alice):
    placement_create(tenant=alice.tenant, slug="leaderboard", name="Leaderboard", width=970, height=250)
    placement_create(tenant=alice.tenant, slug="story", name="Story", width=1080, height=1920)
    collection_create(tenant=alice.tenant, slug="summer-26", name="Summer 2026")
    versions = [make_version(alice.tenant, title=title) for title in TITLES]
    for version in versions:
        for slug in ("leaderboard", "story"):
            rendition_get_or_create(version=version, spec=f"placement:{slug}")
    return versions


def _all_images(page, selector: str) -> None:
    # Lazy images below the fold would stay blank in a full-page screenshot.
    page.evaluate("sel => document.querySelectorAll(sel + ' img').forEach(i => { i.loading = 'eager'; })", selector)
    images_loaded(page, selector + " img")


def _titles(tenant, **filters) -> set[str]:
    return set(Asset.objects.for_tenant(tenant).filter(**filters).values_list("title", flat=True))


def test_shift_select_a_range_tag_it_move_it_then_edit_an_asset(page, alice, library):
    page.context.add_init_script(COLLECT_VIOLATIONS)
    log_in(page, "alice", "pw-alice")
    _bulk_in_the_browser(page, alice)
    _edit_on_the_asset_page(page, alice)
    assert page.evaluate("window.__cspViolations") == []


def _bulk_in_the_browser(page, alice) -> None:
    page.goto("/admin/dam/asset/")
    _all_images(page, ".ui-asset-grid")
    boxes = page.locator("input[data-pick]")
    expect(boxes).to_have_count(6)
    # Newest first: cards 1..4 are Camp stove, Head torch, Dome tent, Rain jacket.
    boxes.nth(1).click()
    boxes.nth(4).click(modifiers=["Shift"])
    expect(page.locator("[data-bulk-count]")).to_have_text("4")
    expect(page.locator(".ui-pick-card.is-picked")).to_have_count(4)
    page.fill(".ui-bulk-bar input[name=tags]", "summer, outdoor")
    screenshot(page, "library-browser-selection-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "library-browser-selection-390")
    page.set_viewport_size({"width": 1440, "height": 900})
    page.click("[data-bulk-apply]")
    expect(page.locator(".messagelist")).to_contain_text("Tagged 4 assets with summer, outdoor.")
    picked = {"Camp stove", "Head torch", "Dome tent", "Rain jacket"}
    assert _titles(alice.tenant, tags__contains=["summer", "outdoor"]) == picked

    # The tag filter, then every asset matching it (a selection made of the filter, not of ticks).
    page.goto("/admin/dam/asset/?tag=outdoor")
    expect(page.locator("input[data-pick]")).to_have_count(4)
    page.click("[data-bulk-page]")
    expect(page.locator("[data-bulk-count]")).to_have_text("4")
    page.select_option("[data-bulk-verb]", "move")
    expect(page.locator(".ui-bulk-bar input[name=tags]")).to_be_hidden()
    page.select_option(".ui-bulk-bar select[name=to_collection]", "summer-26")
    page.click("[data-bulk-apply]")
    expect(page.locator(".messagelist")).to_contain_text("Moved 4 assets to Summer 2026.")
    assert _titles(alice.tenant, collection__slug="summer-26") == picked

    # Tagging again skips what already has the tag, and says so.
    page.goto("/admin/dam/asset/")
    page.locator("input[data-pick]").nth(0).click()
    page.locator("input[data-pick]").nth(2).click(modifiers=["Shift"])
    page.fill(".ui-bulk-bar input[name=tags]", "summer")
    page.click("[data-bulk-apply]")
    expect(page.locator(".messagelist")).to_contain_text("Tagged 1 asset with summer.")
    expect(page.locator(".messagelist")).to_contain_text("Skipped 2 (already tagged summer)")


def _edit_on_the_asset_page(page, alice) -> None:
    # The asset page: a new title, then the focal point by clicking on the image.
    asset = Asset.objects.for_tenant(alice.tenant).get(title="Dome tent")
    page.goto(f"/admin/dam/asset/{asset.pk}/change/")
    page.fill("#edit-title", "Dome tent, four season")
    page.click("#asset-details button[type=submit]")
    expect(page.locator(".messagelist")).to_contain_text("Saved the title, tags and collection.")
    expect(page.locator("h1")).to_have_text("Dome tent, four season")

    _all_images(page, "#focal-point")
    after = page.locator('img[data-crop="picked"]').first
    before_position = after.evaluate("img => img.style.objectPosition")
    picker = page.locator("[data-focal-picker] img")
    box = picker.bounding_box()
    picker.click(position={"x": box["width"] * 0.85, "y": box["height"] * 0.3})
    expect(page.locator("[data-focal-label]")).to_have_text("0.85, 0.30")
    assert after.evaluate("img => img.style.objectPosition") != before_position
    marker = page.locator("[data-focal-marker]").evaluate("el => [el.style.left, el.style.top]")
    assert abs(float(marker[0].rstrip("%")) - 85) < 0.5 and abs(float(marker[1].rstrip("%")) - 30) < 0.5
    # The keyboard moves it too: one step right and back.
    page.focus("[data-focal-picker]")
    page.keyboard.press("ArrowRight")
    expect(page.locator("[data-focal-label]")).to_have_text("0.87, 0.30")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("[data-focal-label]")).to_have_text("0.85, 0.30")
    screenshot(page, "library-asset-editing-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "library-asset-editing-390")
    page.set_viewport_size({"width": 1440, "height": 900})
    page.click("[data-focal-save]")
    expect(page.locator(".messagelist")).to_contain_text("Saved the focal point of v1")
    asset.refresh_from_db()
    version = asset.current_version
    assert (round(version.focal_x, 2), round(version.focal_y, 2)) == (0.85, 0.3)
    assert asset.title == "Dome tent, four season"
