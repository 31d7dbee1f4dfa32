"""The capacity page in the browser: an operator sees a pool of two deployments with their live state (one
breaker open), the figures change in place as calls are recorded (no reload), a member is disabled from the bulk
bar, and the page holds together on a phone."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from generation.dispatch import Lane, Outcome
from generation.models import PoolMember, TenantCapacity
from generation.selectors import pools as pool_selectors
from generation.services.capacity import pool_create, pool_member_save, tenant_capacity_set
from tenants.audit import Actor
from tests.support.browser import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PAGE = "/admin/generation/deploymentpool/"
OPERATOR = Actor.system("test-operator")
# Nothing scrolls sideways: neither the page nor a pool's table inside its box.
FITS = """() => document.documentElement.scrollWidth <= window.innerWidth
  && [...document.querySelectorAll('.ui-cap-scroll')].every(box => box.scrollWidth <= box.clientWidth)"""


@pytest.fixture(autouse=True)
def fresh_dispatch_state(settings):
    settings.DISPATCH_KEY_PREFIX = f"{settings.DISPATCH_KEY_PREFIX}:cap-e2e:{id(settings)}"
    pool_selectors._routes.clear()
    pool_selectors._dispatcher.cache_clear()
    yield
    pool_selectors._routes.clear()
    pool_selectors._dispatcher.cache_clear()


# Recorded before the page's own scripts run (Playwright's init scripts are not subject to the CSP).
COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


@pytest.fixture(autouse=True)
def no_csp_violation(page):
    """The page's script, styles and computed widths live under the Content-Security-Policy."""
    page.context.add_init_script(COLLECT_VIOLATIONS)
    yield
    assert page.evaluate("window.__cspViolations || []") == []


def _pool_of_two(tenant):
    pool = pool_create(name="eu-main", owner=None, actor=OPERATOR, description="Sweden first, France behind it")
    for name, region, priority, rpm in (("sweden", "swedencentral", 0, 30), ("france", "francecentral", 1, 12)):
        member = PoolMember(
            pool=pool,
            name=name,
            endpoint=f"https://{name}.openai.azure.com",
            deployment="gpt-image-2",
            region=region,
            data_zone="eu",
            deployment_type=PoolMember.DeploymentType.DATA_ZONE,
            priority=priority,
            rpm=rpm,
        )
        pool_member_save(member=member, actor=OPERATOR, api_key="sk-e2e-secret-key")
    tenant_capacity_set(tenant=tenant, actor=OPERATOR, pool=pool, max_share_percent=60)
    return pool


def _traffic(dispatcher, sweden, france, *, failures: int) -> None:
    """Sweden: two calls in its window now, answered in 18-24 s, one 429 among them; France refusing (breaker open)."""
    for n in range(2):
        grant = dispatcher.acquire(ticket=f"t{n}", tenant="a", lane=Lane.BULK, tokens=0, timeout=5)
        dispatcher.restamp(grant=grant, tokens=0)
    for seconds in (18.2, 21.5, 24.0):
        dispatcher.record_outcome(member=sweden.dispatch_key, outcome=Outcome.SUCCESS, latency_seconds=seconds)
    dispatcher.record_outcome(member=sweden.dispatch_key, outcome=Outcome.THROTTLED)
    for _ in range(failures):
        dispatcher.record_outcome(member=france.dispatch_key, outcome=Outcome.PRE_GENERATION)


def _edit_dialog_keeps_the_key_hidden(page, row, member) -> None:
    """The edit dialog: the key field is empty (write-only) and says one is stored."""
    row.get_by_role("button", name=f"Edit {member.name}").click()
    dialog = page.locator(f"#dialog-member-{member.pk}")
    expect(dialog).to_be_visible()
    expect(dialog.locator(f"#id_m{member.pk}-api_key")).to_have_value("")
    expect(dialog).to_contain_text("A key is stored")
    screenshot(page, "capacity-edit")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()


def test_an_operator_watches_a_pool_live_and_disables_a_member(page, alice, settings):
    get_user_model().objects.create_superuser("root", password="a-long-test-password")
    pool = _pool_of_two(alice.tenant)
    sweden, france = pool.members.get(name="sweden"), pool.members.get(name="france")
    dispatcher = pool_selectors.route_for(tenant_id=alice.tenant.pk).dispatcher()
    _traffic(dispatcher, sweden, france, failures=settings.POOL_BREAKER_FAILURES)

    log_in(page, "root", "a-long-test-password")
    page.goto(PAGE)
    sweden_row = page.locator(f"tr[data-member-key='{sweden.dispatch_key}']")
    france_row = page.locator(f"tr[data-member-key='{france.dispatch_key}']")
    expect(sweden_row.locator("[data-live-breaker]")).to_have_text("Closed")
    expect(sweden_row.locator("[data-live-breaker]")).to_have_class("ui-badge ui-breaker-closed")
    expect(france_row.locator("[data-live-breaker]")).to_have_text("Open")
    expect(france_row.locator("[data-live-breaker]")).to_have_class("ui-badge ui-breaker-open")
    expect(france_row.locator("[data-live=opened]")).to_contain_text("since")
    expect(sweden_row.locator("td[data-live=calls]")).to_have_text("4")
    expect(sweden_row.locator("[data-live=throttled]")).to_have_text("1")
    expect(sweden_row.locator("[data-live=p50]")).to_have_text("21.5 s")
    expect(france_row.locator("[data-live=headroom]")).to_have_text("0")
    expect(page.locator(f"#pool-{pool.pk} .ui-cap-tenants")).to_contain_text("Tenant A")
    assert "sk-e2e-secret-key" not in page.content()

    # Live: two more answers arrive; the cells change in place (the page is not reloaded).
    page.evaluate("window.__sameDocument = true")
    for seconds in (19.0, 20.0):
        dispatcher.record_outcome(member=sweden.dispatch_key, outcome=Outcome.SUCCESS, latency_seconds=seconds)
    expect(sweden_row.locator("td[data-live=calls]")).to_have_text("6")
    expect(page.locator("[data-live-status]")).to_contain_text("updated")
    assert page.evaluate("window.__sameDocument") is True
    assert page.evaluate(FITS)
    screenshot(page, "capacity-1440")

    _edit_dialog_keeps_the_key_hidden(page, france_row, france)

    # Bulk: tick France, disable it (after the confirmation), through the service.
    page.on("dialog", lambda confirm: confirm.accept())
    france_row.locator("input[data-bulk-member]").check()
    expect(page.locator("[data-bulk-count]")).to_have_text("1")
    page.locator("#capacity-bulk button[value=disable]").click()
    expect(page.locator(".messagelist")).to_contain_text("1 deployment(s) disabled: france")
    france.refresh_from_db()
    assert not france.enabled
    expect(page.locator(f"tr[data-member-key='{france.dispatch_key}']")).to_have_class(re.compile(r"\bis-disabled\b"))

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(PAGE)
    expect(page.locator(f"tr[data-member-key='{sweden.dispatch_key}'] [data-live-breaker]")).to_have_text("Closed")
    expect(page.locator("[data-live-status]")).to_contain_text("updated")
    assert page.evaluate(FITS)
    screenshot(page, "capacity-390")


def test_a_refused_deployment_reopens_its_form_with_the_error_on_the_field(page, alice):
    """On a phone: the dialog's form is one column, and a refusal brings it back open at the field it names."""
    get_user_model().objects.create_superuser("root", password="a-long-test-password")
    pool = _pool_of_two(alice.tenant)
    log_in(page, "root", "a-long-test-password")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(PAGE)
    page.locator(f"#pool-{pool.pk}").get_by_role("button", name="Add deployment").click()
    dialog = page.locator(f"#dialog-add-{pool.pk}")
    field = lambda name: dialog.locator(f"[name='add{pool.pk}-{name}']")  # noqa: E731
    field("name").fill("norway")
    field("deployment").fill("gpt-image-2")
    field("endpoint").fill("https://norway.openai.azure.com")
    field("region").fill("norwayeast")
    dialog.get_by_role("button", name="Add deployment").click()  # no key for an api-key deployment

    dialog = page.locator(f"#dialog-add-{pool.pk}")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-error-for=api_key]")).to_contain_text("API key: An api-key deployment needs a key.")
    expect(field("region")).to_have_value("norwayeast")
    assert not pool.members.filter(name="norway").exists()
    expect(dialog.locator("[data-form-errors]")).to_contain_text("API key: An api-key deployment needs a key.")
    assert page.evaluate(FITS)
    screenshot(page, "capacity-refused-390")
    dialog.locator("input[type=password]").fill("sk-norway-key")
    dialog.get_by_role("button", name="Add deployment").click()
    expect(page.locator(".messagelist")).to_contain_text(re.compile("norway added to eu-main", re.IGNORECASE))
    assert pool.members.get(name="norway").api_key().reveal() == "sk-norway-key"
    assert "sk-norway-key" not in page.content()


def test_a_tenant_admin_sees_its_own_pool_read_only(page, alice, charlie):
    _pool_of_two(alice.tenant)
    other = pool_create(name="b-private", owner=charlie.tenant, actor=OPERATOR)
    member = PoolMember(pool=other, name="b-only", endpoint="https://b.openai.azure.com", deployment="d", region="x1")
    pool_member_save(member=member, actor=OPERATOR, api_key="sk-b")
    alice.user.set_password("a-long-test-password")
    alice.user.save()
    log_in(page, "alice", "a-long-test-password")
    page.goto(PAGE)
    expect(page.locator("#my-capacity h2")).to_have_text("Pool eu-main")
    expect(page.locator("#my-capacity")).to_contain_text("60% of the pool's requests per minute")
    expect(page.locator("tr[data-member-key]")).to_have_count(2)
    expect(page.locator("[data-live-status]")).to_contain_text("updated")
    body = page.content()
    assert "b-private" not in body and "b-only" not in body and "data-dialog-open" not in body
    assert page.evaluate(FITS)
    screenshot(page, "capacity-tenant")


def test_an_operator_places_a_tenant_in_a_pool_from_its_chip(page, alice, charlie):
    get_user_model().objects.create_superuser("root", password="a-long-test-password")
    pool = _pool_of_two(alice.tenant)
    log_in(page, "root", "a-long-test-password")
    page.goto(PAGE)
    # Tenant B uses no pool yet: its chip opens the form filled with its current place (none).
    page.get_by_role("link", name="Tenant B").click()
    dialog = page.locator("#dialog-tenant")
    expect(dialog).to_be_visible()
    expect(dialog.locator("select[name=tenant]")).to_have_value(charlie.tenant.slug)
    dialog.locator("select[name=pool]").select_option(str(pool.pk))
    dialog.locator("input[name=max_share_percent]").fill("25")
    dialog.locator("input[name=allowed_data_zones]").fill("eu")
    dialog.locator("select[name=retry_unknown_outcome]").select_option("never")
    screenshot(page, "capacity-assign")
    dialog.get_by_role("button", name="Save").click()
    expect(page.locator(f"#pool-{pool.pk} .ui-cap-tenants")).to_contain_text("Tenant B · weight 1 · cap 25%")
    capacity = TenantCapacity.objects.for_tenant(charlie.tenant).get()
    assert (capacity.pool_id, capacity.max_share_percent, capacity.allowed_data_zones) == (pool.pk, 25, ["eu"])
    assert capacity.retry_unknown_outcome == "never"
