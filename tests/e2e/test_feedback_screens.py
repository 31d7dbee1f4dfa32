"""The generate, job and cost pages at 1440 px and on a phone (390 px): nothing overflows sideways, the plan
panel and the estimator answer, and the screenshots land in artifacts/screenshots/ (issue 17)."""

from __future__ import annotations

import pytest

from generation.models import Job
from governance.services.budgets import budget_set
from tenants.audit import Actor
from tenants.services import brand_policy_update, placement_create
from tests.support.browser import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  // Panels clip what sticks out of them: anything wider than its panel is cut off, not scrolled to.
  const clipped = [...document.querySelectorAll('.ui-panel *')].filter(el => {
    const box = el.getBoundingClientRect(), panel = el.closest('.ui-panel').getBoundingClientRect();
    return box.width > 0 && box.right > panel.right + 1 && !el.closest('.ui-scroll-x, canvas');
  }).map(el => el.tagName.toLowerCase() + '.' + [...el.classList].join('.'));
  return {scroll: document.documentElement.scrollWidth, width, clipped: clipped.slice(0, 8)};
}"""


def _no_sideways_scroll(page, name):
    result = page.evaluate(OVERFLOW)
    assert result["scroll"] <= result["width"] + 1, (name, result)
    assert result["clipped"] == [], (name, result)


@pytest.mark.parametrize("width", [1440, 390])
def test_the_feedback_pages_fit_the_screen(page, alice, width):
    tenant = alice.tenant
    placement_create(tenant=tenant, slug="leaderboard", width=970, height=250, output_format="png")
    placement_create(tenant=tenant, slug="mobile-story", width=1080, height=1920, output_format="jpeg")
    brand_policy_update(tenant=tenant, default_locales=["de-DE", "fr-FR"], banned_terms=["cheap"])
    budget_set(tenant=tenant, actor=Actor.system("test"), monthly_limit_usd="1250", alert_threshold_percent=80)
    alice.user.set_password("a-long-test-password")
    alice.user.save()
    log_in(page, alice.user.get_username(), "a-long-test-password")
    page.set_viewport_size({"width": width, "height": 844})

    page.goto("/admin/generation/job/generate/")
    page.check("input[name=placements][value=leaderboard]")
    page.check("input[name=placements][value=mobile-story]")
    page.fill("#id_prompt", "A cheap trail shoe on wet rock")
    page.wait_for_selector("#plan-panel .ui-plan-errors")
    assert "Prompt" in page.inner_text("#plan-panel .ui-error")
    _no_sideways_scroll(page, "generate-error")
    screenshot(page, f"issue17-generate-refused-{width}")
    page.fill("#id_prompt", "A trail shoe on wet rock")
    page.wait_for_selector("#plan-panel [data-textless]")
    _no_sideways_scroll(page, "generate")
    screenshot(page, f"issue17-generate-plan-{width}")

    page.click("#submit-job")
    page.wait_for_url("**/change/")
    job = Job.objects.for_tenant(tenant).get()
    assert job.locales == {}
    _no_sideways_scroll(page, "job")
    screenshot(page, f"issue17-job-{width}")

    page.goto("/admin/governance/costs/")
    page.check("input[name=routing][value='16']")
    page.wait_for_selector("#estimate-panel [data-badge='cheapest-upscales']")
    if width == 390:
        # The service's refusal replaces the last estimate instead of leaving it on screen as if still valid.
        for value in ("auto", "smimage", "xlimage", "16"):
            page.uncheck(f"input[name=routing][value='{value}']")
        page.wait_for_selector("#estimate-panel .ui-estimate-error")
        assert "Routings to compare" in page.inner_text("#estimate-panel")
        screenshot(page, "issue17-costs-refused-390")
        page.check("input[name=routing][value=auto]")
        page.check("input[name=routing][value='16']")
        page.wait_for_selector("#estimate-panel [data-badge='cheapest-upscales']")
    _no_sideways_scroll(page, "costs")
    screenshot(page, f"issue17-costs-{width}")

    page.goto("/admin/governance/budgets/")
    _no_sideways_scroll(page, "budgets")
    screenshot(page, f"issue17-budgets-{width}")
