"""A bulk action over more assets than a request should carry, in Chromium: "Select all N matching", tag them,
land on the operation's page and watch it fill in without a reload (a real Celery worker runs it); then its
report. Screenshots of the progress and the report at 1440 and 390 px."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from dam.models import Asset, BulkOperation
from tests.factories import make_asset
from tests.support.browser import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ASSETS = 130  # above BULK_INLINE_MAX (100): a background operation


@pytest.fixture
def library(alice):
    return [make_asset(alice.tenant, title=f"Tent {n:03d}") for n in range(ASSETS)]


def test_tagging_every_matching_asset_runs_in_the_background_with_live_progress(page, alice, library, celery_worker):
    log_in(page, "alice", "pw-alice")
    page.goto("/admin/dam/asset/")
    page.click("[data-bulk-everything]")
    expect(page.locator("[data-bulk-count]")).to_have_text(str(ASSETS))
    page.fill(".ui-bulk-bar input[name=tags]", "autumn")
    page.click("[data-bulk-apply]")
    page.wait_for_url(re.compile(r"/admin/dam/asset/bulk-operations/\d+/$"))
    operation = BulkOperation.objects.for_tenant(alice.tenant).get()
    row = page.locator(f"#bulk-operation-{operation.pk}")
    page.evaluate("window.bulkPageMarker = 'still here'")
    screenshot(page, "bulk-operation-progress-1440")
    expect(row).to_have_attribute("data-state", "done", timeout=120_000)
    assert page.evaluate("window.bulkPageMarker") == "still here"  # filled in by polling, not a reload
    expect(row).to_contain_text(str(ASSETS))
    assert Asset.objects.for_tenant(alice.tenant).filter(tags__contains=["autumn"]).count() == ASSETS
    screenshot(page, "bulk-operation-done-1440")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "bulk-operation-done-390")
