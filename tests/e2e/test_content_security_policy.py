"""Every staff page under the Content-Security-Policy: no violation reported by Chromium, and what needs
scripts still works (htmx's live plan, Chart.js' spend chart, computed widths set from data attributes)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from dam.services.webhooks import webhook_endpoint_create
from governance.services.budgets import budget_set
from governance.services.safety import safety_config_update
from tenants.audit import Actor
from tenants.services import placement_create
from tests.factories import make_version
from tests.support.browser import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Recorded in the page before any of its own scripts run (Playwright's init scripts are not subject to CSP).
COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sourceFile || ""));
});
"""


@pytest.fixture
def staff_data(alice, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True  # no DNS here
    placement_create(tenant=alice.tenant, slug="leaderboard", name="Leaderboard", width=970, height=250)
    safety_config_update(tenant=alice.tenant, review_rule="always")  # the version waits on the review board
    budget_set(tenant=alice.tenant, actor=Actor.for_user(alice.user), monthly_limit_usd=Decimal("50"))
    version = make_version(alice.tenant, title="Trail shoe")
    webhook_endpoint_create(tenant=alice.tenant, url="https://hooks.example.com/dam", events=["job.failed"])
    return version


def test_no_staff_page_reports_a_csp_violation(page, alice, staff_data):
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.context.add_init_script(COLLECT_VIOLATIONS)
    log_in(page, "alice", "pw-alice")

    def visit(url: str) -> None:
        response = page.goto(url)
        assert response.status == 200, url
        policy = response.headers["content-security-policy"]
        assert "'unsafe-inline'" not in policy and "frame-ancestors 'none'" in policy, policy
        page.wait_for_load_state("networkidle")

    pages = {
        "dashboard": reverse("admin:index"),
        "asset browser": reverse("admin:dam_asset_changelist"),
        "asset page": reverse("admin:dam_asset_change", args=[staff_data.asset_id]),
        "review board": reverse("admin:governance_review_board"),
        "audit": reverse("admin:governance_audit_log"),
        "webhooks": reverse("admin:dam_webhookendpoint_changelist"),
        "budgets": reverse("admin:governance_budget_changelist"),
        "brand policy": reverse("admin:governance_brand_policy_editor"),
        "safety policy": reverse("admin:governance_safety_editor"),
        "jobs": reverse("admin:generation_job_changelist"),
        # Stock Django admin pages (actions, change forms, related-object widgets).
        "placements": reverse("admin:tenants_placement_changelist"),
        "new placement": reverse("admin:tenants_placement_add"),
        "members": reverse("admin:tenants_membership_changelist"),
        "API keys": reverse("admin:tenants_apikey_changelist"),
        "API docs": "/api/docs/",
    }
    seen: dict[str, list[str]] = {}
    for name, url in pages.items():
        visit(url)
        seen[name] = page.evaluate("window.__cspViolations")
        if name == "API docs":  # Swagger UI started from its script file and drew the schema
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("DAM platform API")
        if name == "review board":  # its computed aspect ratio comes through the CSSOM, not a style attribute
            review_aspect = page.locator("[data-review-item] img").evaluate("img => img.style.aspectRatio")

    # The generate page with a live plan: htmx posts the form and swaps the plan in.
    visit(reverse("admin:generation_job_generate"))
    page.fill("#id_prompt", "A trail running shoe on wet rock at sunrise")
    page.check("input[name=placements][value=leaderboard]")
    expect(page.locator("#plan-panel .ui-plan-stats")).to_be_visible(timeout=10_000)
    assert page.locator("#plan-panel .ui-aspect-icon").first.evaluate("el => el.style.aspectRatio") != ""
    seen["generate (live plan)"] = page.evaluate("window.__cspViolations")
    screenshot(page, "csp-generate-live-plan")

    # The cost dashboard: Chart.js draws the spend chart; the estimator's panel arrives through htmx.
    visit(reverse("admin:governance_cost_dashboard"))
    expect(page.locator("#spend-chart")).to_have_attribute("data-ready", "1")
    expect(page.locator("#estimate-panel .ui-estimate-option").first).to_be_visible(timeout=10_000)
    seen["costs"] = page.evaluate("window.__cspViolations")
    screenshot(page, "csp-costs")

    violations = {name: found for name, found in seen.items() if found}
    reported = [text for text in console if "Content Security Policy" in text]
    assert not violations and not reported, (violations, reported)
    assert review_aspect != ""
