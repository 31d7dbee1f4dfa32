"""A brand editor's day in the browser: log in, generate a localized campaign for two placements,
watch the job finish live, find the outputs in the asset browser, refine one by an edit, compare.

Real pieces only: Chromium, the live Django server, a Celery worker process, Redis, Postgres and
the Foundry emulator over HTTP. Screenshots of each page go to artifacts/screenshots/.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from dam.models import Asset, AssetVersion
from generation.models import Job
from tenants.services import brand_policy_update, placement_create
from tests.factories import png_bytes
from tests.support.browser import JOB_TIMEOUT_MS, images_loaded, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def campaign_tenant(alice):
    for slug, name, width, height, image_format in (
        ("leaderboard", "Leaderboard", 970, 250, "png"),
        ("mobile-story", "Mobile story", 1080, 1920, "jpeg"),
    ):
        placement_create(
            tenant=alice.tenant, slug=slug, name=name, width=width, height=height, output_format=image_format
        )
    brand_policy_update(tenant=alice.tenant, style_guide="Clean product photography, soft daylight.")
    return alice


def upload_photo(page: Page) -> None:
    page.click("nav.ui-nav >> text=Assets")
    page.click("text=Upload")
    page.set_input_files(
        "input[name=files]", {"name": "store-front.png", "mimeType": "image/png", "buffer": png_bytes(900, 600)}
    )
    page.fill("#id_tags", "store")
    screenshot(page, "02b-upload")
    page.click("#submit-upload")
    page.wait_for_url(re.compile(r"/admin/dam/asset/\d+/change/"))
    expect(page.locator(".ui-page-head h1")).to_have_text("store-front")
    images_loaded(page, ".ui-preview img")


def fill_campaign(page: Page) -> int:
    """The generate form with two placements and two languages; returns the planned output tokens."""
    page.fill("#id_prompt", "A trail running shoe on wet rock at sunrise, space for a headline")
    page.check("input[name=placements][value=leaderboard]")
    page.check("input[name=placements][value=mobile-story]")
    for code, copy in (("ja", "新登場"), ("de", "Neu eingetroffen")):
        page.click("#add-locale")
        page.locator(".ui-locale-code").last.fill(code)
        page.locator(".ui-locale-copy").last.fill(copy)
    page.click(".ui-segmented label:has(input[value=low])")
    # Two aspect groups x two languages: four provider calls, planned before anything is spent.
    calls = page.locator("#plan-panel .ui-plan-stats > div").first
    expect(calls).to_contain_text("4", timeout=10_000)
    expect(calls).to_contain_text("provider calls")
    expect(page.locator("#plan-panel .ui-plan-group")).to_have_count(2)
    assert Decimal(page.get_attribute("#plan-panel [data-estimated-usd]", "data-estimated-usd")) > 0
    return int(page.get_attribute("#plan-panel [data-estimated-tokens]", "data-estimated-tokens"))


def watch_job(page: Page, *, outputs: int) -> None:
    expect(page.locator("#job-state")).to_have_text("Succeeded", timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#job-outputs .ui-output")).to_have_count(outputs)
    images_loaded(page, "#job-outputs img")
    expect(page.locator(".ui-progress-text")).to_contain_text(f"{outputs} of {outputs}")
    expect(page.locator("text=Cancel job")).to_have_count(0)


def browse_outputs(page: Page) -> None:
    page.click("nav.ui-nav >> text=Assets")
    cards = page.locator(".ui-asset-card")
    expect(cards).to_have_count(5)  # four outputs and the uploaded photo
    images_loaded(page, ".ui-asset-card img")
    screenshot(page, "06-asset-browser")
    page.select_option("select[aria-label='Filter by market']", label="ja")
    expect(cards).to_have_count(2)
    page.select_option("select[aria-label='Filter by placement']", label="leaderboard")
    expect(cards).to_have_count(1)
    screenshot(page, "07-asset-browser-filtered")
    cards.first.click()
    page.wait_for_url(re.compile(r"/admin/dam/asset/\d+/change/"))


def edit_and_compare(page: Page, tenant, asset_id: int) -> None:
    page.click("text=Edit v1")
    expect(page.locator(".ui-page-head h1")).to_contain_text("v1")
    page.fill("#id_prompt", "Same shot, add light rain")
    page.click(".ui-segmented label:has(input[value=low])")
    expect(page.locator("#plan-panel .ui-plan-stats")).to_contain_text("1", timeout=10_000)
    page.click("#submit-job")
    watch_job(page, outputs=1)
    page.locator("#job-outputs .ui-output").first.click()
    expect(page.locator(".ui-timeline-item")).to_have_count(2)
    expect(page.locator(".ui-timeline-item").first).to_contain_text("Edit of v1")
    screenshot(page, "09-asset-lineage")
    versions = AssetVersion.objects.for_tenant(tenant).filter(asset_id=asset_id).order_by("number")
    assert [v.parent.number if v.parent else None for v in versions] == [None, 1]
    page.click("text=Compare versions")
    expect(page.locator(".ui-compare-side")).to_have_count(2)
    images_loaded(page, ".ui-compare-side img")
    screenshot(page, "10-compare-versions")


def test_generate_two_locales_two_placements_watch_it_finish_and_browse_the_outputs(
    page, campaign_tenant, clean_emulator, celery_worker
):
    tenant = campaign_tenant.tenant
    page.goto("/admin/login/")
    screenshot(page, "01-login")
    log_in(page, "alice", "pw-alice")
    expect(page.locator(".ui-page-head h1")).to_have_text("Tenant A")
    screenshot(page, "02-dashboard-empty")

    upload_photo(page)
    page.click("nav.ui-nav >> text=Generate")
    tokens = fill_campaign(page)
    screenshot(page, "03-generate-with-plan")
    page.click("#submit-job")
    page.wait_for_url(re.compile(r"/admin/generation/job/\d+/change/$"))
    assert Job.objects.for_tenant(tenant).get().estimated_output_tokens == tokens
    screenshot(page, "04-job-in-progress")
    watch_job(page, outputs=4)
    screenshot(page, "05-job-finished")

    browse_outputs(page)
    asset = Asset.objects.for_tenant(tenant).get(pk=int(re.search(r"/asset/(\d+)/", page.url).group(1)))
    assert asset.locale == "ja"
    expect(page.locator("td strong", has_text="leaderboard")).to_be_visible()
    expect(page.locator("td", has_text="970\u00d7250")).to_be_visible()
    screenshot(page, "08-asset-page")
    edit_and_compare(page, tenant, asset.pk)

    page.click("nav.ui-nav >> text=Jobs")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    screenshot(page, "11-jobs")
    page.click("nav.ui-nav >> text=Dashboard")
    expect(page.locator(".ui-kpi-value").first).to_have_text("5")
    images_loaded(page, ".ui-mini-thumb img")
    screenshot(page, "12-dashboard")


def test_a_viewer_sees_the_library_but_no_generate(page, alice, bob):
    log_in(page, "bob", "pw-bob")
    expect(page.locator("nav.ui-nav")).not_to_contain_text("Generate")
    response = page.goto("/admin/generation/job/generate/")
    assert response.status == 403
    assert not Job.objects.for_tenant(bob.tenant).exists()
