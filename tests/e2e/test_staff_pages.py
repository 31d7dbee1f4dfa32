"""The staff UI's own pages after the house plan moved them (ui shell, dam, governance): each renders for a
tenant admin at desktop and phone widths, with its breadcrumbs, and nothing scrolls the page sideways."""

from __future__ import annotations

import pytest

from tests.factories import make_asset
from tests.support.browser import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = {
    "dashboard": "/admin/",
    "webhooks": "/admin/dam/webhookendpoint/",
    "budgets": "/admin/governance/budgets/",
    "brand-policy": "/admin/governance/policies/brand/",
    "safety": "/admin/governance/policies/safety/",
    "audit": "/admin/governance/audit/",
    "costs": "/admin/governance/costs/",
    "review-board": "/admin/governance/review/",
    "review-decisions": "/admin/dam/reviewdecision/",
}
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


@pytest.mark.parametrize("width", [1440, 390])
def test_each_staff_page_renders_with_breadcrumbs_and_no_sideways_scroll(page, alice, width):
    make_asset(alice.tenant, title="hero")
    alice.user.set_password("a-long-test-password")
    alice.user.save()
    log_in(page, alice.user.get_username(), "a-long-test-password")
    page.set_viewport_size({"width": width, "height": 900})
    for name, url in PAGES.items():
        response = page.goto(url)
        assert response is not None and response.status == 200, (name, response and response.status)
        assert page.locator('.breadcrumbs a[href="/admin/"]').count() or name == "dashboard", name
        assert page.evaluate(OVERFLOW) <= 1, (name, width, page.evaluate(OVERFLOW))
        screenshot(page, f"house-plan-{name}-{width}")
