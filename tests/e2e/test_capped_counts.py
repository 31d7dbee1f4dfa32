"""A big tenant's lists in the browser: the asset browser and the review board say "N+" past their counting cap
(the cap is lowered here to 5), "select all matching" in the asset browser shows the same "N+" in its bar, and the
pages still lay out at 1440 and 390 px. Screenshots: capped-asset-browser-<width>, capped-review-board-<width>."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from dam.blobs import blob_put
from dam.services.assets import asset_create, asset_version_create
from tests.factories import png_bytes
from tests.support.browser import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COLOURS = [(79, 70, 229), (14, 116, 144), (234, 88, 12), (22, 163, 74), (190, 18, 60), (71, 85, 105)]


@pytest.fixture
def library(alice, bob, monkeypatch):
    monkeypatch.setattr("dam.admin.paging.CappedPaginator.cap", 5)
    monkeypatch.setattr("dam.selectors.search.SEARCH_COUNT_CAP", 5)  # a search's own, lower cap
    monkeypatch.setattr("dam.admin.assets.AssetAdmin.list_per_page", 4)  # pages, as at scale
    monkeypatch.setattr("dam.admin.review.PAGE_SIZE", 4)
    for i in range(9):
        asset = asset_create(tenant=alice.tenant, title=f"Summer sneaker {i}", source="generated", locale="de-DE")
        blob = blob_put(
            tenant_id=alice.tenant.pk, kind="originals", data=png_bytes(colour=COLOURS[i % 6]), image_format="png"
        )
        asset_version_create(
            asset=asset, blob=blob, width=64, height=48, image_format="png", created_by=alice.user, job_id=40 + i
        )


@pytest.mark.parametrize("width", [1440, 390])
def test_the_lists_say_five_plus_past_the_cap_and_select_all_keeps_it(page, library, width):
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, "bob", "pw-bob")
    page.goto("/admin/dam/asset/?q=summer+sneaker")
    expect(page.locator("#asset-count")).to_contain_text("5+ assets match")
    page.wait_for_load_state("networkidle")  # the thumbnails in view
    screenshot(page, f"capped-asset-browser-{width}")

    page.goto("/admin/governance/review/")
    expect(page.locator("#board-total")).to_have_text("5+ versions waiting")
    expect(page.locator("#board-range")).to_contain_text("Showing 1\u20134 of 5+ · page 1 of 2+")
    expect(page.locator("[data-matching-too-many]")).to_contain_text("To decide all 5+ at once")
    page.wait_for_load_state("networkidle")
    screenshot(page, f"capped-review-board-{width}")


def test_select_all_matching_in_the_asset_browser_shows_the_capped_count(page, library):
    log_in(page, "alice", "pw-alice")
    page.goto("/admin/dam/asset/")
    page.get_by_role("button", name="Select all 5+ matching").click()
    expect(page.locator("[data-bulk-count]")).to_have_text("5+")
    page.get_by_role("button", name="Select this page").click()
    expect(page.locator("[data-bulk-count]")).to_have_text("4")
