"""The copy and brand checks in the browser: the asset page's panel (evidence pictures load through the staff
view, colour swatches drawn without a style attribute) and the review board's badges and checks filter, at 1440
and 390 px with nothing wider than the screen. Screenshots land in artifacts/screenshots.

The asset page shows what the real checks service found on an emulator render; the board's versions carry checks
recorded as the service records them (tests.support.checks), without running OCR.
"""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image, ImageDraw, ImageFont
from playwright.sync_api import expect

from dam.models import ChecksState, VersionCheck
from tests.support.browser import images_loaded, log_in, screenshot
from tests.support.checks import checked_version, make_version, run_checks_on_render, set_checks

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZE = (960, 600)
PASSWORD = "a-long-test-password"
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def _font(size: int):
    try:
        return ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def _pictures() -> tuple[bytes, bytes]:
    """A generated-looking picture with its copy on a card, and the copy check's evidence: the line read, boxed."""
    image = Image.new("RGB", SIZE, (10, 123, 79))
    draw = ImageDraw.Draw(image)
    draw.ellipse((560, 80, 900, 420), fill=(255, 0, 170))
    draw.rounded_rectangle((80, 360, 560, 500), radius=18, fill=(255, 255, 255))
    draw.text((110, 395), "Sumer sale", font=_font(64), fill=(120, 120, 120))
    original = io.BytesIO()
    image.save(original, "PNG")
    draw.rectangle((100, 385, 460, 470), outline=(220, 20, 60), width=6)
    evidence = io.BytesIO()
    image.save(evidence, "PNG")
    return original.getvalue(), evidence.getvalue()


def _evidence_loaded(page) -> None:
    # The evidence thumbnails load lazily: bring each one on screen first.
    for image in page.locator("#checks img").all():
        image.scroll_into_view_if_needed()
    images_loaded(page, "#checks img")


@pytest.fixture
def signed_in_page(page, alice):
    alice.user.set_password(PASSWORD)
    alice.user.save()
    log_in(page, alice.user.get_username(), PASSWORD)
    return page


def test_the_asset_pages_checks_panel_at_desktop_and_phone_widths(signed_in_page, alice):
    """What the real checks found on an emulator render with one letter of its copy substituted, under a brand
    whose palette the render is far from."""
    page = signed_in_page
    policy = {"palette": ["#1f4d3a", "#f2efe6", "#c8a24a"], "palette_max_delta_e": "12", "palette_min_score": "0.5"}
    version = run_checks_on_render(alice.tenant, text_fault="substitute", policy=policy)
    kinds = VersionCheck.objects.for_tenant(alice.tenant).filter(version=version).count()
    page.goto(f"/admin/dam/asset/{version.asset_id}/change/")
    panel = page.locator("#checks")
    expect(panel).to_contain_text("Copy and brand checks")
    expect(panel.locator("[data-check]")).to_have_count(kinds)
    expect(panel.locator("[data-checks-copy]")).to_have_text(f"copy {version.checks_summary['copy']['verdict']}")
    _evidence_loaded(page)
    screenshot(page, "checks-asset-page-1440")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    _evidence_loaded(page)
    assert page.evaluate(OVERFLOW) <= 0
    box = panel.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    for row in panel.locator("[data-check]").all():
        row_box = row.bounding_box()
        assert row_box["x"] + row_box["width"] <= box["x"] + box["width"] + 0.5, row_box
    panel.scroll_into_view_if_needed()
    screenshot(page, "checks-asset-page-390")


def test_the_asset_page_names_copy_characters_the_ocr_models_cannot_write(signed_in_page, alice):
    """Korean copy with "앱", which no installed model can write: the panel says so beside the difference, in
    Hangul that fits a phone's width."""
    page = signed_in_page
    version = run_checks_on_render(alice.tenant, copy="앱 다운로드", locale="ko")
    page.goto(f"/admin/dam/asset/{version.asset_id}/change/")
    row = page.locator('#checks [data-check="copy"]')
    expect(row).to_contain_text("Cannot be read back")
    expect(row).to_contain_text("앱: not among the characters the OCR models can write")
    expect(row.locator("[data-differences]")).to_contain_text("the OCR models cannot write it: check by eye")
    _evidence_loaded(page)
    row.scroll_into_view_if_needed()
    screenshot(page, "checks-unwritable-characters-1440")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    _evidence_loaded(page)
    assert page.evaluate(OVERFLOW) <= 0
    row.scroll_into_view_if_needed()
    screenshot(page, "checks-unwritable-characters-390")


def test_the_review_boards_checks_badges_and_filter_at_desktop_and_phone_widths(signed_in_page, alice):
    page = signed_in_page
    original, evidence = _pictures()
    near = checked_version(
        alice.tenant, title="Summer sale / tent / en-GB", original=original, size=SIZE, evidence=evidence
    )
    checked_version(alice.tenant, title="Summer sale / tent / en-US", verdict="exact", original=original, size=SIZE)
    pending = make_version(alice.tenant, title="Summer sale / tent / de-DE", original=original, size=SIZE)
    set_checks(pending, state=ChecksState.PENDING)
    failed = make_version(alice.tenant, title="Summer sale / tent / fr-FR", original=original, size=SIZE)
    set_checks(failed, state=ChecksState.FAILED)

    page.goto("/admin/governance/review/")
    expect(page.locator("[data-review-item]")).to_have_count(4)
    expect(page.locator(f"#review-{near.pk} [data-checks-copy=near]")).to_be_visible()
    expect(page.locator(f"#review-{pending.pk} [data-checks=pending]")).to_be_visible()
    expect(page.locator(f"#review-{pending.pk} [data-approve]")).to_have_count(0)
    images_loaded(page, ".ui-rb-grid img")
    screenshot(page, "checks-review-board-1440")

    page.select_option("#f-checks", "copy")  # submits itself (data-autosubmit)
    page.wait_for_url("**checks=copy**")
    expect(page.locator("[data-review-item]")).to_have_count(1)
    expect(page.locator(f"#review-{near.pk}")).to_be_visible()

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/admin/governance/review/")
    images_loaded(page, ".ui-rb-grid img")
    assert page.evaluate(OVERFLOW) <= 0
    for badge in page.locator("[data-checks-badges]").all():
        badge_box = badge.bounding_box()
        assert badge_box["x"] >= 0 and badge_box["x"] + badge_box["width"] <= 390, badge_box
    screenshot(page, "checks-review-board-390")


def test_the_campaign_grid_shows_the_checks_and_stops_polling_when_they_are_done(signed_in_page, alice):
    from dam.models import Asset, AssetVersion
    from generation.lifecycle import JobState
    from generation.models import CampaignCell, Job
    from generation.services.campaigns import campaign_create, campaign_run
    from tenants.services import placement_create

    page = signed_in_page
    placement_create(tenant=alice.tenant, slug="square", name="Square", width=1024, height=1024, output_format="png")
    campaign = campaign_create(
        tenant=alice.tenant,
        name="Summer sale",
        created_by=alice.user,
        markets=[{"locale": "en-GB", "copy": "Summer sale"}, {"locale": "de-DE", "copy": "Sommerschlussverkauf"}],
        placements=["square"],
        creatives=[{"key": "dawn", "name": "Tent at dawn", "prompt": "A green tent on a ridge at dawn"}],
    )
    campaign_run(campaign=campaign, scope="all", requested_by=alice.user)
    Job.objects.for_tenant(alice.tenant).update(state=JobState.SUCCEEDED)
    original, evidence = _pictures()
    versions = {}
    for cell in CampaignCell.objects.for_tenant(alice.tenant).filter(campaign=campaign):
        version = checked_version(
            alice.tenant, title=f"Summer sale / dawn / {cell.locale}", original=original, size=SIZE, evidence=evidence
        )
        Asset.objects.for_tenant(alice.tenant).filter(pk=version.asset_id).update(campaign_id=campaign.pk)
        CampaignCell.objects.for_tenant(alice.tenant).filter(pk=cell.pk).update(
            asset_id=version.asset_id, current_version=version
        )
        versions[cell.locale] = version
    set_checks(versions["de-DE"], state=ChecksState.PENDING)

    page.goto(f"/admin/generation/campaign/{campaign.pk}/")
    grid = page.locator("#campaign-grid")
    expect(grid).to_have_attribute("data-checking", "1")
    expect(grid.locator("[data-checks-copy=near]")).to_have_count(1)
    expect(grid.locator("[data-checks=pending]")).to_have_count(1)
    images_loaded(page, "#campaign-grid img")
    screenshot(page, "checks-campaign-grid-pending")
    # The checks finish: the next poll (every 2 s) draws the verdict and the grid stops polling.
    done = AssetVersion.objects.for_tenant(alice.tenant).get(pk=versions["en-GB"].pk)
    AssetVersion.objects.for_tenant(alice.tenant).filter(pk=versions["de-DE"].pk).update(
        checks_state=ChecksState.DONE,
        checks_summary=done.checks_summary,
        brand_checks_passed=done.brand_checks_passed,
        brand_checks_run=done.brand_checks_run,
    )
    expect(grid.locator("[data-checks-copy=near]")).to_have_count(2, timeout=10_000)
    expect(page.locator("#campaign-grid")).to_have_attribute("data-checking", "0")
    expect(page.locator("#campaign-grid")).not_to_have_attribute("hx-get", re.compile(".*"))
    images_loaded(page, "#campaign-grid img")
    screenshot(page, "checks-campaign-grid-done")
