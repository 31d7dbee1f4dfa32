"""Bulk review in the browser: a reviewer narrows the board to one campaign, selects cards (click, shift-click a
range), approves them in one action; the versions the reviewer requested are skipped and the message says why
(four-eyes), in words; the reject dialog puts its button right after the comment. Screenshots at 1440 and 390 px.

Chromium against the live server; the campaign's outputs are made through the library services (no worker needed:
the board's thumbnails are cut on request).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from dam.blobs import blob_put
from dam.lifecycle import VersionStatus
from dam.models import Asset, AssetVersion, ReviewDecision
from dam.services.assets import asset_create, asset_version_create
from tenants.services import placement_create
from tests.factories import png_bytes
from tests.support.browser import images_loaded, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MARKETS = ["de-DE", "fr-FR", "ja-JP"]
PLACEMENTS = {"pdp-square": ("PDP square", 640, 640), "leaderboard": ("Leaderboard", 970, 250)}
COLOURS = [(79, 70, 229), (14, 116, 144), (234, 88, 12), (22, 163, 74), (190, 18, 60), (71, 85, 105)]


@pytest.fixture
def campaign(alice, bob):
    """Campaign 7, "Spring sale": 3 markets x 2 placements. Bob requested the ja-JP cells himself."""
    for slug, (name, width, height) in PLACEMENTS.items():
        placement_create(tenant=alice.tenant, slug=slug, name=name, width=width, height=height)
    versions = []
    for m, market in enumerate(MARKETS):
        for p, (slug, (_, width, height)) in enumerate(PLACEMENTS.items()):
            title = f"Spring sale / hero / {market} / {slug}"
            asset = asset_create(tenant=alice.tenant, title=title, source="generated")
            Asset.objects.for_tenant(alice.tenant).filter(pk=asset.pk).update(
                campaign_id=7, creative="hero", locale=market, placements=[slug]
            )
            colour = COLOURS[(m * 2 + p) % len(COLOURS)]
            data = png_bytes(width=width // 2, height=height // 2, colour=colour)
            blob = blob_put(tenant_id=alice.tenant.pk, kind="originals", data=data, image_format="png")
            requester = bob.user if market == "ja-JP" else alice.user
            versions.append(
                asset_version_create(
                    asset=asset,
                    blob=blob,
                    width=width // 2,
                    height=height // 2,
                    image_format="png",
                    created_by=requester,
                    locale=market,
                    job_id=90 + m,
                    output_index=p,  # one job's outputs: one version per output
                )
            )
    # An upload outside the campaign: the campaign filter leaves it out.
    other = asset_create(tenant=alice.tenant, title="Loose upload", source="uploaded")
    blob = blob_put(tenant_id=alice.tenant.pk, kind="originals", data=png_bytes(colour=(9, 9, 9)), image_format="png")
    asset_version_create(asset=other, blob=blob, width=64, height=48, image_format="png", created_by=alice.user)
    return versions


def _statuses(versions) -> list[str]:
    return [AssetVersion.objects.for_tenant(v.tenant_id).get(pk=v.pk).status for v in versions]


def test_a_reviewer_approves_a_campaign_selection_and_his_own_requests_are_skipped(  # noqa: PLR0915 one story
    browser, live_server, page, campaign
):
    bob_versions = campaign[4:]  # ja-JP: requested by bob
    alice_versions = campaign[:4]
    log_in(page, "bob", "pw-bob")
    page.goto("/admin/governance/review/")
    expect(page.locator("#board-total")).to_have_text("7 versions waiting")
    page.select_option("#f-campaign", label="Spring sale")  # applies on change
    page.wait_for_url("**/review/?*campaign=7*")
    expect(page.locator("#board-total")).to_have_text("6 versions waiting")
    expect(page.locator(".ui-rb-group-head h2")).to_have_text(["Campaign: Spring sale"])
    first = page.locator(f"#review-{campaign[0].pk}")
    expect(first.locator("[data-placement]")).to_have_text(["PDP square"])
    expect(page.locator(f"#review-{campaign[1].pk} [data-placement]")).to_have_text(["Leaderboard"])
    expect(page.locator(f"#review-{bob_versions[0].pk} [data-four-eyes]")).to_be_visible()

    # Click the first card, shift-click the last: the range in between is selected, bob's own cards included.
    page.locator(f"#select-{campaign[0].pk}").click()
    page.locator(f"#select-{campaign[-1].pk}").click(modifiers=["Shift"])
    expect(page.locator("[data-selected-count]")).to_have_text("6 versions selected")
    page.locator(f"#select-{campaign[2].pk}").click()  # and one click takes a card out again
    expect(page.locator("[data-selected-count]")).to_have_text("5 versions selected")
    page.locator(f"#select-{campaign[2].pk}").click()
    expect(page.locator("#select-page")).to_be_checked()
    images_loaded(page, ".ui-review-preview img")
    screenshot(page, "review-board-bulk-1440")

    # The reject dialog: the comment first, its reject button next in the focus order; Esc leaves all as it was.
    page.click("[data-bulk-reject]")
    expect(page.locator("#bulk-comment")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#bulk-reject-confirm")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#reject-dialog")).not_to_be_visible()
    # The same on one card: its reject button comes right after its comment.
    first.locator("[data-reject-open]").click()
    expect(page.locator(f"#comment-{campaign[0].pk}")).to_be_focused()
    page.keyboard.press("Tab")
    expect(first.locator("[data-reject-confirm]")).to_be_focused()
    page.keyboard.press("Escape")
    expect(first.locator("[data-reject-confirm]")).to_be_hidden()

    page.click("button[data-bulk-action][value=approve]")
    messages = page.locator(".messagelist li")
    expect(messages.nth(0)).to_have_text("Approved 4 versions. Skipped 2 versions, listed below.")
    expect(messages.nth(1)).to_contain_text("You requested them, so another reviewer must approve them (2):")
    expect(messages.nth(1)).to_contain_text("Spring sale / hero / ja-JP / pdp-square v1")
    # Back on the same filtered board: only bob's own requests still wait.
    expect(page.locator("#board-total")).to_have_text("2 versions waiting")
    images_loaded(page, ".ui-review-preview img")
    screenshot(page, "review-board-bulk-result-1440")
    assert _statuses(alice_versions) == [VersionStatus.APPROVED] * 4
    assert _statuses(bob_versions) == [VersionStatus.NEEDS_REVIEW] * 2
    assert ReviewDecision.objects.for_tenant(campaign[0].tenant_id).count() == 4

    # On a phone: one column, the filters and the decision bar fit, the cards say what they are.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, base_url=live_server.url, locale="en-US")
    narrow = phone.new_page()
    log_in(narrow, "alice", "pw-alice")
    narrow.goto("/admin/governance/review/?campaign=7&status=approved")
    expect(narrow.locator("#board-total")).to_have_text("4 approved versions")
    narrow.locator(f"#select-{alice_versions[0].pk}").click()
    narrow.locator(f"#select-{alice_versions[1].pk}").click()
    expect(narrow.locator("[data-selected-count]")).to_have_text("2 versions selected")
    width = narrow.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the board scrolls sideways at 390 px ({width} px wide)"
    images_loaded(narrow, ".ui-review-preview img")
    screenshot(narrow, "review-board-bulk-390")
    narrow.click("button[data-bulk-action][value=publish]")
    expect(narrow.locator(".messagelist li").first).to_have_text("Published 2 versions.")
    phone.close()
    assert _statuses(alice_versions[:2]) == [VersionStatus.PUBLISHED] * 2
