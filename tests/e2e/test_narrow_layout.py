"""The staff UI on a phone: the top bar holds its navigation and user menu and covers nothing of the page."""

from __future__ import annotations

import pytest

from tests.support.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADER_BOXES = """() => {
  const box = (sel) => document.querySelector(sel).getBoundingClientRect();
  return {header: box('#header'), nav: box('.ui-nav'), user: box('.ui-user'), crumbs: box('.breadcrumbs')};
}"""


@pytest.mark.parametrize("width", [390, 900, 1440])
def test_the_top_bar_contains_its_nav_and_user_and_ends_before_the_breadcrumbs(page, alice, width):
    alice.user.set_password("a-long-test-password")
    alice.user.save()
    log_in(page, alice.user.get_username(), "a-long-test-password")
    page.set_viewport_size({"width": width, "height": 844})
    for url in ("/admin/generation/job/generate/", "/admin/governance/review/"):
        page.goto(url)
        boxes = page.evaluate(HEADER_BOXES)
        header_bottom = boxes["header"]["y"] + boxes["header"]["height"]
        for part in ("nav", "user"):
            assert boxes[part]["y"] + boxes[part]["height"] <= header_bottom + 0.5, (url, width, part, boxes)
        assert boxes["crumbs"]["y"] >= header_bottom - 0.5, (url, width, boxes)
