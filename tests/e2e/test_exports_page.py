"""The exports page in the browser: an export posted as the asset browser's bulk bar posts it is built by the
worker while the page polls its progress; the finished zip downloads with its manifest; 1440 and 390 px."""

from __future__ import annotations

import json
import zipfile

import pytest
from playwright.sync_api import expect

from dam.models import Export
from dam.services import exports as export_services
from tests.support.browser import log_in, screenshot
from tests.support.exports import campaign_assets

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_export_fills_in_live_and_downloads(page, alice, celery_worker, monkeypatch):
    versions = campaign_assets(alice.tenant)
    log_in(page, "alice", "pw-alice")
    page.goto("/admin/dam/asset/")
    # The bulk bar's form, posted to the export endpoint (what its Export button does).
    token = page.locator("#bulk-form input[name=csrfmiddlewaretoken]").input_value()
    page.request.post(
        "/admin/dam/export/create/",
        form={"csrfmiddlewaretoken": token, "all": "1", "filters": "campaign=7", "next": "/admin/dam/asset/"},
        headers={"Referer": page.url},
    )
    export = Export.objects.for_tenant(alice.tenant).get()
    assert sorted(export.version_ids) == sorted(v.pk for v in versions)

    page.goto(f"/admin/dam/export/?export={export.pk}")
    row = page.locator(f"#export-{export.pk}")
    expect(row).to_have_attribute("data-state", "done", timeout=60_000)
    expect(row).to_contain_text("12 of 12")
    # A second export that waits in the queue (never sent to the worker), so the page shows one still live.
    monkeypatch.setattr(export_services, "export_build_enqueue", lambda *, export_id: None)
    waiting = export_services.export_create(tenant=alice.tenant, selection={"campaign_id": 7, "locale": "de-DE"})
    page.goto("/admin/dam/export/")
    expect(page.locator(f"#export-{waiting.pk}")).to_have_attribute("hx-trigger", "every 1s")
    expect(page.get_by_role("link", name="Exports")).to_have_attribute("aria-current", "page")
    screenshot(page, "exports")

    with page.expect_download() as download_info:
        page.locator(f"#export-{export.pk} a", has_text="Download zip").click()
    download = download_info.value
    assert download.suggested_filename == f"export-{export.pk}.zip"
    archive = zipfile.ZipFile(download.path())
    assert "ja-JP/hero-wide/boot.webp" in archive.namelist()
    assert len(json.loads(archive.read("manifest.json"))["files"]) == 12

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/admin/dam/export/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "exports-390")
