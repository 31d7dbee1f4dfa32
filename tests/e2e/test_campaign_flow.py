"""A campaign from brief to hand-off in the browser: alice creates 3 markets x 3 placements x 2 creatives in the
form, runs it and watches the grid fill without a reload; bob (a second person: four-eyes) approves a row in one
action and rejects one cell with a comment, alice re-runs that cell into a new version of the same asset; the
campaign is exported and its zip's layout and manifest are checked against the stored bytes. Real pieces only:
Chromium, the live server, a Celery worker, the emulator.
Screenshots of the grid at 1440 and 390 px go to artifacts/screenshots/."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile

import pytest
from playwright.sync_api import Page, expect

from dam.blobs import blob_read
from dam.lifecycle import VersionStatus
from dam.models import AssetVersion, Export, Rendition
from generation.models import Campaign, CampaignCell
from tenants.services import brand_policy_update, placement_create
from tests.support.browser import JOB_TIMEOUT_MS, images_loaded, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MARKETS = (("en-GB", "Summer sale"), ("de", "Sommerschlussverkauf"), ("ja", "夏のセール"))
CREATIVES = (
    ("dawn", "Tent at dawn", "A green tent on a ridge at dawn"),
    ("lake", "Lakeside", "A canoe on a calm lake"),
)
CELLS = 3 * 3 * 2


@pytest.fixture
def placements(alice):
    for slug, name, width, height in (
        ("square", "Square post", 1024, 1024),
        ("banner", "Web banner", 1536, 1024),
        ("story", "Story", 1024, 1536),
    ):
        placement_create(tenant=alice.tenant, slug=slug, name=name, width=width, height=height, output_format="png")
    # Every output waits for a person: the grid's cells are then reviewed in bulk.
    brand_policy_update(tenant=alice.tenant, review_required=True)
    return alice


def create_in_the_form(page: Page) -> None:
    page.click("nav.ui-nav >> text=Campaigns")
    page.click("#new-campaign")
    page.fill("#id_name", "Summer sale")
    page.fill("#id_brief", "Tents for the summer")
    for index, (locale, copy) in enumerate(MARKETS):
        page.locator("input[name=market_locale]").nth(index).fill(locale)
        page.locator("input[name=market_copy]").nth(index).fill(copy)
    for slug in ("square", "banner", "story"):
        page.check(f"input[name=placements][value={slug}]")
    for index, (key, name, prompt) in enumerate(CREATIVES):
        page.locator("input[name=creative_key]").nth(index).fill(key)
        page.locator("input[name=creative_name]").nth(index).fill(name)
        page.locator("input[name=creative_prompt]").nth(index).fill(prompt)
    page.click(".ui-segmented label:has(input[value=low])")
    screenshot(page, "campaign-form")
    page.click("#save-campaign")
    page.wait_for_url(re.compile(r"/admin/generation/campaign/\d+/$"))


def grid_cells(page: Page, status: str):
    return page.locator(f"#campaign-grid .ui-grid-item[data-status={status}]")


@pytest.fixture
def staff(placements, alice, bob, clean_emulator, celery_worker):
    return alice, bob


def run_and_watch(page: Page) -> None:
    """Run; the grid fills in while the page stays loaded."""
    expect(grid_cells(page, "planned")).to_have_count(CELLS)
    # Run; from here on the page is never reloaded: a marker on the window survives only without a reload.
    page.click("#run-all")
    expect(page.locator(".messagelist")).to_contain_text("Submitted 2 jobs for 18 cells of the whole campaign.")
    page.evaluate("window.campaignPageMarker = 'still here'")
    expect(page.locator("#campaign-grid")).to_have_attribute("hx-trigger", "every 2s")
    screenshot(page, "campaign-grid-generating")
    expect(page.locator("#campaign-grid")).to_have_attribute("data-generating", "0", timeout=JOB_TIMEOUT_MS)
    # Then every version's copy is read back (the renditions pool): the verdicts fill in the same way.
    expect(page.locator("#campaign-grid")).to_have_attribute("data-checking", "0", timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#campaign-grid .ui-grid-item .ui-check")).to_have_count(CELLS * 2)  # copy + brand badges
    assert page.evaluate("window.campaignPageMarker") == "still here"
    expect(page.locator("#campaign-counts")).to_contain_text(f"{CELLS} needs review")
    expect(grid_cells(page, "needs_review")).to_have_count(CELLS)
    images_loaded(page, "#campaign-grid img")
    expect(page.locator("#campaign-grid")).not_to_have_attribute("hx-trigger", re.compile("every"))
    screenshot(page, "campaign-grid-1440")


def test_a_campaign_from_the_form_to_the_export(page, staff):
    alice, _ = staff
    tenant = alice.tenant
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    log_in(page, "alice", "pw-alice")
    create_in_the_form(page)
    campaign = Campaign.objects.for_tenant(tenant).get()
    run_and_watch(page)

    # A cell opens its asset page.
    page.locator("#campaign-grid tr[data-locale=ja] .ui-grid-thumb").first.click()
    page.wait_for_url(re.compile(r"/admin/dam/asset/\d+/change/"))
    page.go_back()

    # Alice requested every version: her approval of a row is skipped, version by version, and said so.
    page.locator("tr[data-locale=ja] .ui-approve-row").click()
    expect(page.locator(".messagelist")).to_contain_text("Nothing was approved. Skipped 6 versions")
    expect(page.locator(".messagelist")).to_contain_text(
        "You requested them, so another reviewer must approve them (6)"
    )
    expect(grid_cells(page, "needs_review")).to_have_count(CELLS)

    # Bob approves the German row in one action (alice requested the jobs, so her approval would be skipped).
    page.context.clear_cookies()
    log_in(page, "bob", "pw-bob")
    page.goto(f"/admin/generation/campaign/{campaign.pk}/")
    page.locator("tr[data-locale=de] .ui-approve-row").click()
    expect(page.locator(".messagelist")).to_contain_text("Market de: Approved 6 versions.")
    expect(page.locator("#campaign-grid tr[data-locale=de] .ui-grid-item[data-status=approved]")).to_have_count(6)
    versions = CampaignCell.objects.for_tenant(tenant).filter(campaign=campaign, locale="de")
    statuses = set(
        AssetVersion.objects.for_tenant(tenant)
        .filter(pk__in=versions.values("current_version"))
        .values_list("status", flat=True)
    )
    assert statuses == {VersionStatus.APPROVED}

    reject_and_rerun(page, campaign)

    # Compare across markets: one placement, every market side by side.
    page.click("#compare-markets")
    expect(page.locator(".ui-compare-market")).to_have_count(3 * 2)
    images_loaded(page, ".ui-compare-market img")
    screenshot(page, "campaign-compare-markets")
    page.go_back()

    page.click("#export-campaign")
    page.wait_for_url(re.compile(r"/admin/dam/export/"))
    export = Export.objects.for_tenant(tenant).get()
    assert export.selection["campaign_id"] == campaign.pk
    expect(page.locator(f"#export-{export.pk}")).to_have_attribute("data-state", "done", timeout=60_000)
    check_the_zip(page, export)
    page.click("nav.ui-nav >> text=Campaigns")
    expect(page.locator(".ui-campaign-list tbody tr")).to_have_count(1)
    expect(page.locator(".ui-campaign-list")).to_contain_text("12 needs review")
    screenshot(page, "campaign-list")
    narrow_screens(page, campaign)
    # No inline script or style anywhere on the way (the polling included): the policy reported nothing.
    assert not [text for text in console if "Content Security Policy" in text]


def narrow_screens(page: Page, campaign: Campaign) -> None:
    # At 390 px the page fits the screen; only the grid scrolls sideways, inside its own box.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/admin/generation/campaign/{campaign.pk}/")
    images_loaded(page, "#campaign-grid img")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    scroller = page.locator(".ui-campaign-scroll")
    assert scroller.evaluate("el => el.scrollWidth > el.clientWidth")
    screenshot(page, "campaign-grid-390")
    # Bob reviews; editing the campaign is alice's.
    assert page.goto(f"/admin/generation/campaign/{campaign.pk}/edit/").status == 403
    page.context.clear_cookies()
    log_in(page, "alice", "pw-alice")
    page.goto(f"/admin/generation/campaign/{campaign.pk}/edit/")
    expect(page.locator("input[name=market_locale]").nth(2)).to_have_value("ja")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "campaign-form-390")


REJECTED = ("dawn", "en-GB", "square")  # the first row: in view in the 1440 px screenshot


def reject_and_rerun(page: Page, campaign: Campaign) -> None:
    """Bob rejects one cell with a comment (the comment box, then its button, in focus order); alice re-runs
    it and the cell gets a new version of the same asset."""
    tenant = campaign.tenant
    creative, locale, placement = REJECTED
    cell = CampaignCell.objects.for_tenant(tenant).get(
        campaign=campaign, creative=creative, locale=locale, placement=placement
    )
    item = page.locator(
        f"#campaign-grid tr[data-locale={locale}] .ui-grid-item[data-creative={creative}][data-placement={placement}]"
    )
    item.locator("summary").click()
    comment = item.locator("textarea[name=comment]")
    comment.fill("The tent is cut off at the top")
    comment.press("Tab")
    expect(item.locator("button[type=submit]", has_text="Reject")).to_be_focused()
    screenshot(page, "campaign-cell-reject-open")
    page.keyboard.press("Enter")
    expect(page.locator(".messagelist")).to_contain_text(
        f"Rejected version 1 of cell {creative} / {locale} / {placement}"
    )
    expect(page.locator(f"#campaign-grid tr[data-locale={locale}] .ui-grid-item[data-status=rejected]")).to_have_count(
        1
    )
    images_loaded(page, "#campaign-grid img")
    screenshot(page, "campaign-grid-rejected-1440")

    page.context.clear_cookies()
    log_in(page, "alice", "pw-alice")
    page.goto(f"/admin/generation/campaign/{campaign.pk}/")
    item.get_by_role("button", name=re.compile("^Re-run")).click()
    expect(page.locator(".messagelist")).to_contain_text(
        f"Submitted 1 job for 1 cell of cell {creative} / {locale} / {placement}."
    )
    expect(item).to_have_attribute("data-status", "needs_review", timeout=JOB_TIMEOUT_MS)
    rerun = CampaignCell.objects.for_tenant(tenant).get(pk=cell.pk)
    assert rerun.asset_id == cell.asset_id
    assert rerun.current_version.number == 2
    assert AssetVersion.objects.for_tenant(tenant).get(pk=cell.current_version_id).status == VersionStatus.REJECTED
    page.context.clear_cookies()
    log_in(page, "bob", "pw-bob")
    page.goto(f"/admin/generation/campaign/{campaign.pk}/")


def check_the_zip(page: Page, export: Export) -> None:
    """The zip as downloaded: <market>/<placement>/<creative>.<ext> (and each asset's original under original/), every
    manifest sha256 is that of the file in the zip and of the bytes stored for that version or rendition."""
    tenant = export.tenant
    with page.expect_download() as download_info:
        page.locator(f"#export-{export.pk}").get_by_role("link", name="Download zip").click()
    archive = zipfile.ZipFile(download_info.value.path())
    names = set(archive.namelist()) - {"manifest.csv", "manifest.json"}
    placed = {name for name in names if "/original/" not in name}
    layout = re.compile(r"^(en-GB|de|ja)/(square|banner|story)/(dawn|lake)\.png$")
    assert len(placed) == CELLS and all(layout.match(name) for name in placed), sorted(placed)
    # Originals: one per asset (a creative x market x aspect group), so a name repeats with the asset's id.
    originals = re.compile(r"^(en-GB|de|ja)/original/(dawn|lake)(-\d+)?\.(png|jpg|webp)$")
    assert all(originals.match(name) for name in names - placed), sorted(names - placed)
    manifest = json.loads(archive.read("manifest.json"))
    rows = {row["path"]: row for row in manifest["files"]}
    assert set(rows) == names
    for path, row in rows.items():
        stored = AssetVersion.objects.for_tenant(tenant).get(pk=row["version_id"])
        if row["placement"] != "original":
            stored = Rendition.objects.for_tenant(tenant).get(version=stored, placement_slug=row["placement"])
        assert row["sha256"] == hashlib.sha256(archive.read(path)).hexdigest() == stored.sha256, path
        assert hashlib.sha256(blob_read(stored.storage_key)).hexdigest() == stored.sha256, path
    creative, locale, placement = REJECTED
    assert rows[f"{locale}/{placement}/{creative}.png"]["version"] == 2  # the re-run, not the rejected one
