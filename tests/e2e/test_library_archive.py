"""Archiving in the staff UI, in Chromium: archive two assets from the asset browser's bulk bar, see them leave the
grid, show the archived ones and unarchive one from its asset page (the "Archived" badge).
Screenshots of the archived view and of an archived asset's page, at 1440 and 390 px."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from dam.models import Asset
from tests.factories import make_version
from tests.support.browser import images_loaded, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TITLES = ["Trail shoe", "Rain jacket", "Dome tent", "Head torch"]


def _archived(tenant) -> set[str]:
    return set(Asset.objects.for_tenant(tenant).filter(archived_at__isnull=False).values_list("title", flat=True))


def test_archive_from_the_bulk_bar_then_unarchive_on_the_asset_page(page, alice):
    for title in TITLES:
        make_version(alice.tenant, title=title)
    log_in(page, "alice", "pw-alice")
    page.goto("/admin/dam/asset/")
    boxes = page.locator("input[data-pick]")
    expect(boxes).to_have_count(4)
    # Newest first: Head torch, Dome tent.
    boxes.nth(0).click()
    boxes.nth(1).click()
    page.select_option(".ui-bulk-bar select[name=action]", "archive")
    page.click("[data-bulk-apply]")
    expect(page.locator(".messagelist")).to_contain_text("Archived 2 assets")
    assert _archived(alice.tenant) == {"Head torch", "Dome tent"}
    expect(page.locator("input[data-pick]")).to_have_count(2)

    page.goto("/admin/dam/asset/?archived=true")
    expect(page.locator("input[data-pick]")).to_have_count(2)
    expect(page.locator(".ui-bulk-bar select[name=action] option[value=unarchive]")).to_have_count(1)
    images_loaded(page, ".ui-asset-grid img")
    screenshot(page, "library-archived-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "library-archived-390")
    page.set_viewport_size({"width": 1440, "height": 900})

    page.click(".ui-asset-card >> text=Head torch")
    expect(page.locator(".ui-status-archived")).to_have_text("Archived")
    screenshot(page, "library-archived-asset-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "library-archived-asset-390")
    page.set_viewport_size({"width": 1440, "height": 900})
    page.click("button[name=part][value=unarchive]")
    expect(page.locator(".messagelist")).to_contain_text("Unarchived")
    expect(page.locator(".ui-status-archived")).to_have_count(0)
    assert _archived(alice.tenant) == {"Dome tent"}
