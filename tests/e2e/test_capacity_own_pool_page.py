"""The capacity page in the browser for a tenant's admin whose pool is the tenant's own: its deployments with their
live state, edited with the operators' dialog (key write-only), a deployment added, and the page holding together
on a phone; the platform's pools and other tenants out of sight."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from generation.dispatch import Outcome
from generation.models import PoolMember
from generation.selectors import pools as pool_selectors
from generation.services.capacity import pool_create, pool_member_save, tenant_capacity_set
from tenants.audit import Actor
from tests.support.browser import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PAGE = "/admin/generation/deploymentpool/"
OPERATOR = Actor.system("test-operator")
FITS = """() => document.documentElement.scrollWidth <= window.innerWidth
  && [...document.querySelectorAll('.ui-cap-scroll')].every(box => box.scrollWidth <= box.clientWidth)"""


@pytest.fixture(autouse=True)
def fresh_dispatch_state(settings):
    settings.DISPATCH_KEY_PREFIX = f"{settings.DISPATCH_KEY_PREFIX}:cap-own-e2e:{id(settings)}"
    pool_selectors._routes.clear()
    pool_selectors._dispatcher.cache_clear()
    yield
    pool_selectors._routes.clear()
    pool_selectors._dispatcher.cache_clear()


def _member(pool, name: str, region: str, data_zone: str, *, priority: int, rpm: int) -> PoolMember:
    member = PoolMember(
        pool=pool,
        name=name,
        endpoint=f"https://{name}.openai.azure.com",
        deployment="gpt-image-2",
        region=region,
        data_zone=data_zone,
        deployment_type=PoolMember.DeploymentType.DATA_ZONE,
        priority=priority,
        rpm=rpm,
    )
    return pool_member_save(member=member, actor=OPERATOR, api_key="sk-own-e2e-secret")


def _pools(alice, charlie):
    """A platform pool serving tenant A; tenant B's own pool (EU only) of three, one outside its residency."""
    platform = pool_create(name="eu-main", owner=None, actor=OPERATOR)
    _member(platform, "platform-sweden", "swedencentral", "eu", priority=0, rpm=30)
    tenant_capacity_set(tenant=alice.tenant, actor=OPERATOR, pool=platform)
    own = pool_create(name="Tenant B's deployments", owner=charlie.tenant, actor=OPERATOR)
    sweden = _member(own, "b-sweden", "swedencentral", "eu", priority=0, rpm=30)
    france = _member(own, "b-france", "francecentral", "eu", priority=1, rpm=12)
    _member(own, "b-virginia", "eastus2", "us", priority=2, rpm=10)
    tenant_capacity_set(tenant=charlie.tenant, actor=OPERATOR, pool=own, allowed_data_zones=["eu"])
    dispatcher = pool_selectors.route_for(tenant_id=charlie.tenant.pk).dispatcher()
    for seconds in (18.2, 21.5, 24.0):
        dispatcher.record_outcome(member=sweden.dispatch_key, outcome=Outcome.SUCCESS, latency_seconds=seconds)
    return own, sweden, france


def test_a_tenant_admin_edits_the_deployments_of_its_own_pool(page, alice, charlie):
    own, sweden, france = _pools(alice, charlie)
    charlie.user.set_password("a-long-test-password")
    charlie.user.save()
    log_in(page, "charlie", "a-long-test-password")
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(PAGE)
    expect(page.locator("#my-capacity")).to_contain_text("your own pool")
    expect(page.locator("tr[data-member-key]")).to_have_count(3)
    expect(page.locator(f"tr[data-member-key='{sweden.dispatch_key}'] [data-live=p50]")).to_have_text("21.5 s")
    expect(page.locator("tr", has_text="b-virginia")).to_contain_text("outside residency")
    expect(page.locator("[data-live-status]")).to_contain_text("updated")
    body = page.content()
    assert "eu-main" not in body and "platform-sweden" not in body and "Tenant A" not in body
    assert "sk-own-e2e-secret" not in body and "capacity-bulk" not in body
    assert page.evaluate(FITS)
    screenshot(page, "capacity-own-pool-1440")

    # Edit: the operators' dialog, the key field empty (write-only).
    page.locator(f"tr[data-member-key='{france.dispatch_key}']").get_by_role("button", name="Edit b-france").click()
    dialog = page.locator(f"#dialog-member-{france.pk}")
    expect(dialog).to_be_visible()
    expect(dialog.locator(f"#id_m{france.pk}-api_key")).to_have_value("")
    expect(dialog).to_contain_text("A key is stored")
    dialog.locator(f"[name='m{france.pk}-rpm']").fill("18")
    screenshot(page, "capacity-own-pool-edit")
    dialog.get_by_role("button", name="Save").click()
    expect(page.locator(".messagelist")).to_contain_text(re.compile("b-france saved in", re.IGNORECASE))
    france.refresh_from_db()
    assert france.rpm == 18 and france.api_key().reveal() == "sk-own-e2e-secret"

    # On a phone: add a deployment from the pool's button.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(PAGE)
    page.get_by_role("button", name="Add deployment").click()
    dialog = page.locator("#dialog-add-own")
    field = lambda name: dialog.locator(f"[name='addown-{name}']")  # noqa: E731
    field("name").fill("b-norway")
    field("deployment").fill("gpt-image-2")
    field("endpoint").fill("https://b-norway.openai.azure.com")
    field("region").fill("norwayeast")
    field("data_zone").fill("eu")
    dialog.locator("input[type=password]").fill("sk-norway-key")
    dialog.get_by_role("button", name="Add deployment").click()
    expect(page.locator(".messagelist")).to_contain_text(re.compile("b-norway added to", re.IGNORECASE))
    assert own.members.get(name="b-norway").api_key().reveal() == "sk-norway-key"
    expect(page.locator("tr[data-member-key]")).to_have_count(4)
    expect(page.locator("[data-live-status]")).to_contain_text("updated")
    assert page.evaluate(FITS)
    screenshot(page, "capacity-own-pool-390")
