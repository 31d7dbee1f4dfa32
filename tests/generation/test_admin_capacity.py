"""The capacity page of the staff UI: who may see and change what, writes through the capacity services (audited),
the key never rendered, refusals on the field they name, the live JSON, and tenants kept apart."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import redis
from django.contrib.auth import get_user_model

from generation.admin import capacity_live
from generation.dispatch import MemberState, Outcome, PoolDispatcher
from generation.models import DeploymentPool, PoolMember, TenantCapacity
from generation.selectors import pools as pool_selectors
from generation.services.capacity import pool_create, pool_member_save, tenant_capacity_set
from governance.models import AuditEvent
from tenants.audit import Actor
from tests.support.generate_page import signed_in

pytestmark = pytest.mark.django_db

PAGE = "/admin/generation/deploymentpool/"
LIVE = PAGE + "live/"
OPERATOR = Actor.system("test-operator")
SECRET = "sk-very-secret-key-0123456789"


@pytest.fixture(autouse=True)
def fresh_dispatch_state(settings):
    # Each test's members start with no window, stats or breaker in Redis; no cached route answers for them.
    settings.DISPATCH_KEY_PREFIX = f"{settings.DISPATCH_KEY_PREFIX}:cap:{id(settings)}"
    pool_selectors._routes.clear()
    pool_selectors._dispatcher.cache_clear()
    yield
    pool_selectors._routes.clear()
    pool_selectors._dispatcher.cache_clear()


@pytest.fixture
def root(db):
    return get_user_model().objects.create_superuser("root", password="pw-root")


def _member(pool: DeploymentPool, name: str, **values) -> PoolMember:
    member = PoolMember(
        pool=pool,
        name=name,
        endpoint=values.pop("endpoint", f"https://{name}.openai.azure.com"),
        deployment="gpt-image-2",
        region=values.pop("region", "swedencentral"),
        data_zone=values.pop("data_zone", "eu"),
        deployment_type=values.pop("deployment_type", PoolMember.DeploymentType.DATA_ZONE),
        rpm=values.pop("rpm", 30),
        **values,
    )
    return pool_member_save(member=member, actor=OPERATOR, api_key=SECRET)


@pytest.fixture
def pool_a(alice) -> DeploymentPool:
    """A platform pool of two EU deployments and one US one, serving tenant A."""
    pool = pool_create(name="eu-main", owner=None, actor=OPERATOR)
    _member(pool, "sweden", region="swedencentral")
    _member(pool, "france", region="francecentral", priority=1)
    _member(pool, "virginia", region="eastus2", data_zone="us", priority=2)
    tenant_capacity_set(tenant=alice.tenant, actor=OPERATOR, pool=pool, allowed_data_zones=["eu"])
    return pool


@pytest.fixture
def pool_b(charlie) -> DeploymentPool:
    pool = pool_create(name="b-private", owner=charlie.tenant, actor=OPERATOR)
    _member(pool, "b-only", region="westeurope")
    tenant_capacity_set(tenant=charlie.tenant, actor=OPERATOR, pool=pool)
    return pool


def member_post(**overrides) -> dict:
    data = {
        "name": "norway",
        "endpoint": "https://norway.openai.azure.com",
        "deployment": "gpt-image-2",
        "api_style": "deployments",
        "api_version": "2025-04-01-preview",
        "auth_kind": "api_key",
        "api_key": SECRET,
        "connect_timeout_seconds": "10",
        "read_timeout_seconds": "180",
        "rpm": "12",
        "tpm": "0",
        "max_attempts": "4",
        "max_retry_seconds": "300",
        "region": "norwayeast",
        "data_zone": "eu",
        "deployment_type": "data_zone",
        "weight": "2",
        "priority": "0",
        "enabled": "on",
    }
    data.update(overrides)
    return data


def prefixed(prefix: str, data: dict) -> dict:
    return {f"{prefix}-{name}": value for name, value in data.items()}


def edit_post(member: PoolMember, **overrides) -> dict:
    data = member_post(
        name=member.name,
        endpoint=member.endpoint,
        region=member.region,
        data_zone=member.data_zone,
        rpm=str(member.rpm),
        priority=str(member.priority),
        weight=str(member.weight),
        api_key="",
    )
    data.update(overrides)
    return prefixed(f"m{member.pk}", {k: v for k, v in data.items() if v is not None})


def events(tenant, action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_tenant(tenant).filter(action=action).order_by("seq"))


def error_for(response, field: str) -> str:
    """The message shown under `field` (data-error-for marks it), or ''."""
    found = re.search(rf'data-error-for="{field}"><strong>[^<]*</strong> ([^<]*)</p>', response.content.decode())
    return found.group(1) if found else ""


# --- who sees what ------------------------------------------------------------------------------------------------


def test_operators_see_every_pool_with_its_members_and_tenants(root, pool_a, pool_b):
    response = signed_in(root).get(PAGE)
    assert response.status_code == 200
    body = response.content.decode()
    for text in ("eu-main", "b-private", "sweden", "france", "virginia", "b-only", "Tenant A", "Tenant B"):
        assert text in body
    assert 'data-dialog-open="dialog-pool"' in body and 'id="capacity-bulk"' in body
    assert f'data-member-key="member-{pool_a.members.get(name="sweden").pk}"' in body


def test_a_tenant_admin_sees_only_its_own_pool_read_only(alice, pool_a, pool_b):
    response = signed_in(alice.user).get(PAGE)
    assert response.status_code == 200
    body = response.content.decode()
    assert "eu-main" in body and "sweden" in body and "france" in body
    # Outside its residency (a US deployment), and everything of tenant B: not shown.
    assert "virginia" not in body and "b-private" not in body and "b-only" not in body and "Tenant B" not in body
    # Read-only: no form of the page posts anywhere (the log-out form is the top bar's).
    assert "dialog-pool" not in body and "capacity-bulk" not in body and "data-dialog-open" not in body
    assert 'action="/admin/generation/deploymentpool/' not in body


def test_staff_without_the_admin_role_get_403_and_anonymous_users_the_login(bob, pool_a, client):
    assert signed_in(bob.user).get(PAGE).status_code == 403
    assert signed_in(bob.user).get(LIVE).status_code == 403
    response = client.get(PAGE)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_tenant_admins_cannot_write_pools_and_nothing_changes(alice, pool_a):
    client = signed_in(alice.user)
    sweden = pool_a.members.get(name="sweden")
    assert client.post(PAGE + "add/", {"name": "mine"}).status_code == 403
    assert client.post(f"{PAGE}{pool_a.pk}/members/add/", member_post()).status_code == 403
    assert client.post(f"{PAGE}members/{sweden.pk}/", edit_post(sweden, rpm="999")).status_code == 404
    assert client.post(f"{PAGE}members/{sweden.pk}/delete/").status_code == 404
    assert client.post(PAGE + "members/bulk/", {"op": "disable", "member": [sweden.pk]}).status_code == 403
    tenant_post = {"tenant": alice.tenant.slug, "weight": "50", "retry_unknown_outcome": "never"}
    assert client.post(PAGE + "tenants/", tenant_post).status_code == 403
    sweden.refresh_from_db()
    assert (sweden.rpm, sweden.enabled) == (30, True)
    assert DeploymentPool.objects.count() == 1 and pool_a.members.count() == 3
    capacity = TenantCapacity.objects.for_tenant(alice.tenant).get()
    assert (capacity.weight, capacity.retry_unknown_outcome) == (1, "once")


def test_isolation_another_tenant_gets_404_for_a_member_and_sees_nothing_of_it(charlie, alice, pool_a, pool_b):
    client = signed_in(charlie.user)
    sweden = pool_a.members.get(name="sweden")
    before = list(AuditEvent.objects.for_tenant(alice.tenant).values_list("seq", flat=True))
    assert client.post(f"{PAGE}members/{sweden.pk}/", edit_post(sweden, enabled=None)).status_code == 404
    assert client.post(f"{PAGE}members/{sweden.pk}/delete/").status_code == 404
    sweden.refresh_from_db()
    assert sweden.enabled and PoolMember.objects.filter(pk=sweden.pk).exists()
    assert list(AuditEvent.objects.for_tenant(alice.tenant).values_list("seq", flat=True)) == before
    body = client.get(PAGE).content.decode()
    assert "b-private" in body and "b-only" in body
    assert (
        "eu-main" not in body and ">sweden<" not in body and "Tenant A" not in body
    )  # (a help text says "swedencentral")
    live = client.get(LIVE).json()["members"]
    assert set(live) == {f"member-{pool_b.members.get().pk}"}


# --- writes through the services, audited -------------------------------------------------------------------------


def test_adding_editing_and_deleting_a_member_is_audited_for_the_pools_tenants(root, alice, pool_a):
    client = signed_in(root)
    response = client.post(f"{PAGE}{pool_a.pk}/members/add/", prefixed(f"add{pool_a.pk}", member_post()))
    assert response.status_code == 302, error_for(response, "name") or response.content.decode()[:500]
    norway = pool_a.members.get(name="norway")
    assert (norway.rpm, norway.weight, norway.region, norway.has_api_key) == (12, 2, "norwayeast", True)
    created = events(alice.tenant, "pool.member_created")[-1]
    assert created.actor_label == "user:root" and created.payload["member"] == "norway"
    assert SECRET not in str(created.payload)

    response = client.post(f"{PAGE}members/{norway.pk}/", edit_post(norway, rpm="24", priority="3"))
    assert response.status_code == 302
    norway.refresh_from_db()
    assert (norway.rpm, norway.priority) == (24, 3)
    updated = events(alice.tenant, "pool.member_updated")[-1]
    assert updated.payload["changes"] == {"before": {"priority": 0, "rpm": 12}, "after": {"priority": 3, "rpm": 24}}

    assert client.post(f"{PAGE}members/{norway.pk}/delete/").status_code == 302
    assert not PoolMember.objects.filter(pk=norway.pk).exists()
    assert events(alice.tenant, "pool.member_deleted")[-1].payload["member"] == "norway"


def test_bulk_disable_and_enable_change_each_ticked_member_once_with_an_event_each(root, alice, pool_a):
    client = signed_in(root)
    sweden, france, virginia = (pool_a.members.get(name=n) for n in ("sweden", "france", "virginia"))
    before = len(events(alice.tenant, "pool.member_updated"))
    response = client.post(PAGE + "members/bulk/", {"op": "disable", "member": [sweden.pk, virginia.pk]})
    assert response.status_code == 302
    assert dict(pool_a.members.values_list("name", "enabled")) == {"sweden": False, "france": True, "virginia": False}
    assert len(events(alice.tenant, "pool.member_updated")) == before + 2
    # Enabling all three: only the two disabled ones change (and are audited).
    client.post(PAGE + "members/bulk/", {"op": "enable", "member": [sweden.pk, france.pk, virginia.pk]})
    assert all(pool_a.members.values_list("enabled", flat=True))
    assert len(events(alice.tenant, "pool.member_updated")) == before + 4


def test_a_new_pool_and_a_tenant_assignment_go_through_the_services(root, charlie, pool_a):
    client = signed_in(root)
    response = client.post(PAGE + "add/", {"name": "burst", "description": "overflow", "owner": charlie.tenant.slug})
    assert response.status_code == 302
    burst = DeploymentPool.objects.get(name="burst")
    assert burst.owner == charlie.tenant
    assert events(charlie.tenant, "pool.created")[-1].payload == {"name": "burst"}
    _member(burst, "burst-1", region="westeurope")

    post = {
        "tenant": charlie.tenant.slug,
        "pool": burst.pk,
        "weight": "2.5",
        "max_share_percent": "40",
        "allowed_regions": "westeurope, swedencentral",
        "allowed_data_zones": "",
        "retry_unknown_outcome": "never",
    }
    assert client.post(PAGE + "tenants/", post).status_code == 302
    capacity = TenantCapacity.objects.for_tenant(charlie.tenant).get()
    assert (capacity.pool, str(capacity.weight), capacity.max_share_percent) == (burst, "2.50", 40)
    assert capacity.allowed_regions == ["westeurope", "swedencentral"] and capacity.retry_unknown_outcome == "never"
    assert events(charlie.tenant, "capacity.updated")[-1].actor_label == "user:root"
    # The page opens the form filled with the tenant's place when its chip is followed.
    body = client.get(PAGE + f"?tenant={charlie.tenant.slug}").content.decode()
    assert 'data-open-dialog="dialog-tenant"' in body and 'value="westeurope, swedencentral"' in body


# --- the key --------------------------------------------------------------------------------------------------------


def test_the_api_key_is_stored_encrypted_and_never_rendered(root, alice, pool_a):
    client = signed_in(root)
    sweden = pool_a.members.get(name="sweden")
    stored = sweden.api_key_ciphertext
    assert stored and SECRET not in stored and sweden.api_key().reveal() == SECRET
    body = client.get(PAGE).content.decode()
    assert SECRET not in body and stored not in body
    assert f'name="m{sweden.pk}-api_key"' in body and "A key is stored" in body

    # Saving with the key left empty keeps it; a new key replaces it and is not echoed back on a refusal either.
    client.post(f"{PAGE}members/{sweden.pk}/", edit_post(sweden, rpm="31"))
    sweden.refresh_from_db()
    assert sweden.rpm == 31 and sweden.api_key_ciphertext == stored
    refused = client.post(f"{PAGE}members/{sweden.pk}/", edit_post(sweden, api_key="sk-new-secret-999", rpm="0"))
    assert refused.status_code == 400 and "sk-new-secret-999" not in refused.content.decode()
    client.post(f"{PAGE}members/{sweden.pk}/", edit_post(sweden, api_key="sk-new-secret-999"))
    sweden.refresh_from_db()
    assert sweden.api_key().reveal() == "sk-new-secret-999"
    assert "sk-new-secret-999" not in str(list(AuditEvent.objects.for_tenant(alice.tenant).values("payload")))
    # That the key changed is on the record (the value never is).
    last = AuditEvent.objects.for_tenant(alice.tenant).filter(action="pool.member_updated").order_by("-seq").first()
    assert last.payload["api_key"] == "replaced"


# --- refusals on the field they name ---------------------------------------------------------------------------------


def test_member_form_refusals_name_their_field_and_save_nothing(root, pool_a):
    client = signed_in(root)
    add = f"{PAGE}{pool_a.pk}/members/add/"
    cases = [
        ({"api_key": ""}, "api_key", "needs a key"),
        ({"name": "sweden"}, "name", "already has a deployment of that name"),
        ({"rpm": "0"}, "rpm", "greater than or equal to 1"),
        ({"endpoint": "not a url"}, "endpoint", "valid URL"),
    ]
    for overrides, field, words in cases:
        response = client.post(add, prefixed(f"add{pool_a.pk}", member_post(**overrides)))
        assert response.status_code == 400, overrides
        assert words in error_for(response, field), (field, response.content.decode()[:300])
        # The refused form comes back open, with what was typed (but never the key).
        assert f'data-open-dialog="dialog-add-{pool_a.pk}"' in response.content.decode()
        assert SECRET not in response.content.decode()
    assert pool_a.members.count() == 3


def test_tenant_form_refusals_from_the_service_name_their_field(root, alice, charlie, pool_a, pool_b):
    client = signed_in(root)
    base = {"tenant": alice.tenant.slug, "pool": pool_a.pk, "weight": "1", "retry_unknown_outcome": "once"}
    # Residency that leaves no enabled deployment: refused by tenant_capacity_set, shown under the regions.
    response = client.post(PAGE + "tenants/", {**base, "allowed_regions": "japaneast"})
    assert response.status_code == 400 and "no enabled deployment" in error_for(response, "allowed_regions")
    # Another tenant's own pool: refused by the service, shown under the pool.
    response = client.post(PAGE + "tenants/", {**base, "pool": pool_b.pk})
    assert response.status_code == 400 and "not a pool this tenant may use" in error_for(response, "pool")
    response = client.post(PAGE + "tenants/", {**base, "allowed_regions": "West Europe!"})
    assert response.status_code == 400 and "not Azure region names" in error_for(response, "allowed_regions")
    response = client.post(PAGE + "tenants/", {**base, "weight": "0"})
    assert response.status_code == 400 and error_for(response, "weight")
    capacity = TenantCapacity.objects.for_tenant(alice.tenant).get()
    assert (capacity.pool, capacity.allowed_regions, capacity.allowed_data_zones) == (pool_a, [], ["eu"])


def test_a_pool_name_taken_is_refused_on_the_name(root, pool_a):
    response = signed_in(root).post(PAGE + "add/", {"name": "eu-main"})
    assert response.status_code == 400 and error_for(response, "name")
    assert DeploymentPool.objects.count() == 1


# --- live state -------------------------------------------------------------------------------------------------------


def test_live_json_reports_calls_429s_latency_headroom_and_an_open_breaker(root, alice, pool_a, settings):
    sweden, france = pool_a.members.get(name="sweden"), pool_a.members.get(name="france")
    # The dispatcher the workers use for tenant A's calls: the page reads the same members' state.
    dispatcher = pool_selectors.route_for(tenant_id=alice.tenant.pk).dispatcher()
    for latency in (1.0, 2.0, 3.0):
        dispatcher.record_outcome(member=sweden.dispatch_key, outcome=Outcome.SUCCESS, latency_seconds=latency)
    dispatcher.record_outcome(member=sweden.dispatch_key, outcome=Outcome.THROTTLED)
    for _ in range(settings.POOL_BREAKER_FAILURES):
        dispatcher.record_outcome(member=france.dispatch_key, outcome=Outcome.PRE_GENERATION)

    members = signed_in(root).get(LIVE).json()["members"]
    live = members[sweden.dispatch_key]
    assert (live["calls"], live["throttled"], live["p50"], live["breaker"]) == (4, 1, "2.0 s", "closed")
    assert live["effective_rpm"] < 30 and live["learned"]  # a 429 lowers the learned rate
    assert 0 < live["headroom"] <= live["effective_rpm"]
    opened = members[france.dispatch_key]
    assert opened["breaker"] == "open" and opened["headroom"] == 0 and opened["opened"].startswith("since\u00a0")
    body = signed_in(root).get(PAGE).content.decode()
    assert "ui-badge ui-breaker-open" in body and "ui-badge ui-breaker-closed" in body


def test_the_settings_menu_links_the_page_for_admins_and_operators_only(root, alice, bob):
    link = f'<a href="{PAGE}">Capacity</a>'
    assert link in signed_in(root).get("/admin/").content.decode()
    assert link in signed_in(alice.user).get("/admin/").content.decode()
    assert link not in signed_in(bob.user).get("/admin/").content.decode()
    # The operators' list of all data names the pools too, with no stock add form behind it.
    data = signed_in(root).get("/admin/data/").content.decode()
    assert f'href="{PAGE}"' in data and f'href="{PAGE}add/"' not in data


def test_without_redis_the_page_still_shows_the_pools_and_says_the_live_state_is_missing(root, pool_a, monkeypatch):
    def down(self):
        raise redis.ConnectionError("connection refused")

    monkeypatch.setattr(PoolDispatcher, "snapshot", down)
    response = signed_in(root).get(PAGE)
    assert response.status_code == 200
    body = response.content.decode()
    assert "sweden" in body and "cannot be read now" in body and "ui-badge ui-breaker-unknown" in body
    members = signed_in(root).get(LIVE).json()["members"]
    assert len(members) == 3 and all(live == {"available": False} for live in members.values())


def test_writes_take_only_post_and_the_page_only_get(root, pool_a):
    client = signed_in(root)
    sweden = pool_a.members.get(name="sweden")
    for url in ("add/", f"{pool_a.pk}/members/add/", f"members/{sweden.pk}/delete/", "members/bulk/", "tenants/"):
        assert client.get(PAGE + url).status_code == 405, url
    assert client.post(PAGE).status_code == 405 and client.post(LIVE).status_code == 405
    assert PoolMember.objects.filter(pk=sweden.pk).exists()


def test_live_cells_say_half_open_with_its_moment_and_latency_in_the_right_unit():
    opened = dt.datetime(2026, 12, 7, 8, 0, 5, tzinfo=dt.UTC).timestamp()
    state = MemberState(
        key="member-1",
        rpm=30,
        effective_rpm=30,
        requests_in_window=0,
        headroom=0,
        breaker="half_open",
        consecutive_failures=0,
        opened_at=opened,
        calls_last_minute=1,
        throttled_last_minute=0,
        latency_p50_ms=850,
        latency_p95_ms=125_000,
    )
    live = capacity_live.live_values(state, zone=ZoneInfo("Europe/Berlin"))
    assert (live["breaker"], live["breaker_label"]) == ("half_open", "Half-open")
    assert (live["p50"], live["p95"]) == ("850 ms", "125.0 s")
    assert live["opened"].startswith("since\u00a009:00:05\u00a0Europe/Berlin · ")
    assert capacity_live.live_values(None, zone=ZoneInfo("UTC")) == {"available": False}
