"""Review, storefront and costs in the browser: an editor's generation waits for review; the requester
is shown (and held to) four-eyes; a reviewer approves it with a key press; the storefront API then
serves it; the spend shows on the cost dashboard; the audit trail records the decision.

Real pieces only, as in test_generate_flow: Chromium, the live server, a Celery worker, the emulator.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from dam.lifecycle import VersionStatus
from dam.models import AssetVersion, ReviewDecision
from governance.services.budgets import budget_set
from governance.services.safety import safety_config_update
from tenants.audit import Actor
from tenants.models import Role, Scope
from tenants.services import brand_policy_update, placement_create
from tests.factories import make_api_key, make_user
from tests.support.browser import JOB_TIMEOUT_MS, VIEWPORT, images_loaded, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def review_tenant(alice):
    placement_create(tenant=alice.tenant, slug="leaderboard", name="Leaderboard", width=970, height=250)
    brand_policy_update(tenant=alice.tenant, style_guide="Clean product photography, soft daylight.")
    # Every output waits for a person, whatever its moderation verdict.
    safety_config_update(tenant=alice.tenant, review_rule="always")
    budget_set(tenant=alice.tenant, actor=Actor.for_user(alice.user), monthly_limit_usd=Decimal("0.01"))
    return alice


@pytest.fixture
def rita_page(browser, live_server, review_tenant):
    make_user("rita", tenant=review_tenant.tenant, role=Role.REVIEWER)
    context = browser.new_context(viewport=VIEWPORT, base_url=live_server.url, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def generate_one(page: Page) -> None:
    page.click("nav.ui-nav >> text=Generate")
    page.fill("#id_prompt", "A trail running shoe on wet rock at sunrise")
    page.check("input[name=placements][value=leaderboard]")
    page.click(".ui-segmented label:has(input[value=low])")
    expect(page.locator("#plan-panel .ui-plan-stats")).to_contain_text("1", timeout=10_000)
    page.click("#submit-job")
    page.wait_for_url(re.compile(r"/admin/generation/job/\d+/change/$"))
    expect(page.locator("#job-state")).to_have_text("Succeeded", timeout=JOB_TIMEOUT_MS)


def edit_policies(page: Page) -> None:
    """A new brand policy version with what changed from v1; the safety editor shows the tightened review rule."""
    page.goto("/admin/governance/policies/brand/")
    page.fill("#id_style_guide", "Clean product photography, soft daylight, wet surfaces glisten.")
    page.fill("#id_palette", "#0F172A, #4F46E5, #22D3EE")
    page.click("#save-policy")
    expect(page.locator(".ui-page-head h1")).to_contain_text("v2")
    expect(page.locator("#policy-diff tr.is-changed")).to_have_count(2)
    screenshot(page, "18-brand-policy-editor")
    page.goto("/admin/governance/policies/safety/")
    expect(page.locator("#policy-diff tr.is-changed", has_text="review rule")).to_contain_text("always")
    screenshot(page, "19-safety-editor")


def test_review_as_a_second_user_then_find_it_in_the_storefront_and_see_the_spend(
    page, rita_page, review_tenant, clean_emulator, celery_worker
):
    tenant = review_tenant.tenant
    log_in(page, "alice", "pw-alice")
    generate_one(page)
    version = AssetVersion.objects.for_tenant(tenant).get()
    assert version.status == VersionStatus.NEEDS_REVIEW

    # The requester: four-eyes shown, no approve button, and a forced POST is refused.
    page.click("nav.ui-nav >> text=Review")
    item = page.locator(f"#review-{version.pk}")
    expect(item.locator("[data-four-eyes]")).to_have_text("You requested this: another reviewer must approve it.")
    expect(item.locator("[data-approve]")).to_have_count(0)
    images_loaded(page, ".ui-review-preview img")
    screenshot(page, "13-review-board-requester")
    token = page.locator(f"#review-{version.pk} input[name=csrfmiddlewaretoken]").input_value()
    refused = page.request.post(
        f"/admin/governance/review/{version.pk}/decide/",
        form={"csrfmiddlewaretoken": token, "action": "approve"},
        headers={"Referer": page.url},
    )
    assert refused.status == 403
    version.refresh_from_db()
    assert version.status == VersionStatus.NEEDS_REVIEW

    # A reviewer approves it from the keyboard.
    log_in(rita_page, "rita", "pw-rita")
    expect(rita_page.locator("nav.ui-nav")).not_to_contain_text("Generate")
    rita_page.click("nav.ui-nav >> text=Review")
    expect(rita_page.locator(".ui-page-head h1")).to_have_text("1 version waiting")
    expect(rita_page.locator(f"#review-{version.pk} [data-policy-version]")).to_have_text("v1")
    images_loaded(rita_page, ".ui-review-preview img")
    screenshot(rita_page, "14-review-board")
    rita_page.keyboard.press("r")
    expect(rita_page.locator(f"#review-{version.pk} textarea[name=comment]")).to_be_focused()
    rita_page.keyboard.press("Escape")
    rita_page.keyboard.press("a")
    expect(rita_page.locator(".messagelist")).to_contain_text("Approved")
    expect(rita_page.locator(".ui-page-head h1")).to_have_text("Nothing waiting")
    screenshot(rita_page, "15-review-board-empty")
    version.refresh_from_db()
    assert version.status == VersionStatus.APPROVED
    assert ReviewDecision.objects.for_tenant(tenant).get().actor_label == "user:rita"

    # The storefront API serves the approved asset.
    shop = make_api_key(tenant, Scope.ASSETS_READ, name="storefront")
    listing = page.request.get("/api/v1/storefront/assets", headers={"Authorization": f"Bearer {shop.token}"})
    assert listing.status == 200
    assert version.asset_id in [asset["id"] for asset in listing.json()["results"]]

    # The spend shows on the cost dashboard, with the chart drawn.
    page.click("nav.ui-nav >> text=Costs")
    assert Decimal(page.get_attribute("#spend-total", "data-usd")) > 0
    expect(page.locator("#spend-chart[data-ready]")).to_have_count(1)
    expect(page.locator(".ui-estimate-option")).to_have_count(3, timeout=10_000)
    screenshot(page, "16-cost-dashboard")

    page.click("nav.ui-nav >> text=Audit")
    expect(page.locator("#chain-status")).to_contain_text("Chain verified")
    page.select_option("#f-action", "review.approve")
    page.click("text=Filter")
    expect(page.locator("#audit-events tbody tr")).to_have_count(1)
    expect(page.locator("#audit-events")).to_contain_text("user:rita")
    screenshot(page, "17-audit-trail")

    edit_policies(page)
