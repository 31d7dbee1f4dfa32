"""The capacity page for a tenant's admin whose pool is the tenant's own: its members edited with the operators'
form, through the tenant side of the capacity services, scoped to the tenant; the platform's pools and other
tenants stay invisible and out of reach."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from generation.models import DeploymentPool, PoolMember, TenantCapacity
from generation.selectors import pools as pool_selectors
from generation.services.capacity import pool_create, pool_member_save, tenant_capacity_set
from governance.models import AuditEvent
from tenants.audit import Actor
from tests.support.generate_page import signed_in

pytestmark = pytest.mark.django_db

PAGE = "/admin/generation/deploymentpool/"
OWN_ADD = PAGE + "own/members/add/"
LIVE = PAGE + "live/"
OPERATOR = Actor.system("test-operator")
SECRET = "sk-very-secret-key-0123456789"


@pytest.fixture(autouse=True)
def fresh_dispatch_state(settings):
    settings.DISPATCH_KEY_PREFIX = f"{settings.DISPATCH_KEY_PREFIX}:capown:{id(settings)}"
    pool_selectors._routes.clear()
    pool_selectors._dispatcher.cache_clear()
    yield
    pool_selectors._routes.clear()
    pool_selectors._dispatcher.cache_clear()


def _member(pool: DeploymentPool, name: str, **values) -> PoolMember:
    member = PoolMember(
        pool=pool,
        name=name,
        endpoint=f"https://{name}.openai.azure.com",
        deployment="gpt-image-2",
        region=values.pop("region", "swedencentral"),
        data_zone=values.pop("data_zone", "eu"),
        rpm=values.pop("rpm", 30),
        **values,
    )
    return pool_member_save(member=member, actor=OPERATOR, api_key=SECRET)


@pytest.fixture
def platform_pool(alice) -> DeploymentPool:
    pool = pool_create(name="eu-main", owner=None, actor=OPERATOR)
    _member(pool, "sweden")
    _member(pool, "france", region="francecentral")
    tenant_capacity_set(tenant=alice.tenant, actor=OPERATOR, pool=pool)
    return pool


@pytest.fixture
def own_pool(charlie) -> DeploymentPool:
    """Tenant B's own pool (it uses it): one EU deployment."""
    pool = pool_create(name="b-private", owner=charlie.tenant, actor=OPERATOR)
    _member(pool, "b-only", region="westeurope")
    tenant_capacity_set(tenant=charlie.tenant, actor=OPERATOR, pool=pool, weight=4)
    return pool


def _post(prefix: str, **overrides) -> dict:
    data = {
        "name": "b-norway",
        "endpoint": "https://b-norway.openai.azure.com",
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
        **overrides,
    }
    return {f"{prefix}-{name}": value for name, value in data.items() if value is not None}


def _edit(member: PoolMember, **overrides) -> dict:
    values = {
        "name": member.name,
        "endpoint": member.endpoint,
        "region": member.region,
        "data_zone": member.data_zone,
        "rpm": str(member.rpm),
        "api_key": "",
        **overrides,
    }
    return _post(f"m{member.pk}", **values)


def _error_for(response, field: str) -> str:
    found = re.search(rf'data-error-for="{field}"><strong>[^<]*</strong> ([^<]*)</p>', response.content.decode())
    return found.group(1) if found else ""


def _state() -> list:
    return [
        sorted(DeploymentPool.objects.values_list("id", "name", "owner_id")),
        sorted(PoolMember.objects.values_list("id", "name", "rpm", "enabled", "auth_kind", "api_key_ciphertext")),
        sorted(TenantCapacity.unscoped.values_list("tenant_id", "pool_id", "weight")),
    ]


def test_a_tenant_admin_of_an_own_pool_sees_its_members_with_the_operators_forms(charlie, platform_pool, own_pool):
    body = signed_in(charlie.user).get(PAGE).content.decode()
    member = own_pool.members.get()
    assert "your own pool" in body and "b-only" in body
    assert f'action="{PAGE}members/{member.pk}/"' in body and f'action="{PAGE}members/{member.pk}/delete/"' in body
    assert f'action="{OWN_ADD}"' in body and f'name="m{member.pk}-rpm"' in body  # PoolMemberForm, prefixed
    assert SECRET not in body and "key stored" in body
    # The operators' controls and everything else stay out of sight.
    assert "capacity-bulk" not in body and "dialog-pool" not in body and "dialog-tenant" not in body
    assert (
        "eu-main" not in body and ">sweden<" not in body and "Tenant A" not in body
    )  # (a help text says "swedencentral")
    # Entra ID is not offered: it would be the platform's identity.
    assert 'value="entra"' not in body
    assert set(signed_in(charlie.user).get(LIVE).json()["members"]) == {member.dispatch_key}


def test_a_tenant_admin_adds_edits_and_deletes_its_pools_deployments_through_the_services(charlie, own_pool):
    client = signed_in(charlie.user)
    added = client.post(OWN_ADD, _post("addown"))
    assert added.status_code == 302, added.content.decode()[:2000]
    norway = own_pool.members.get(name="b-norway")
    assert norway.api_key().reveal() == SECRET and SECRET not in norway.api_key_ciphertext
    assert client.post(f"{PAGE}members/{norway.pk}/", _edit(norway, rpm="18")).status_code == 302
    norway.refresh_from_db()
    assert norway.rpm == 18 and norway.api_key().reveal() == SECRET  # an empty key keeps the stored one
    assert client.post(f"{PAGE}members/{norway.pk}/delete/").status_code == 302
    assert not PoolMember.objects.filter(pk=norway.pk).exists()
    actions = list(AuditEvent.objects.for_tenant(charlie.tenant).order_by("seq").values_list("action", flat=True))
    assert actions[-3:] == ["pool.member_created", "pool.member_updated", "pool.member_deleted"]
    assert TenantCapacity.objects.for_tenant(charlie.tenant).get().weight == 4  # the operator's, untouched


def test_refusals_show_on_the_field_and_change_nothing(charlie, own_pool):
    client = signed_in(charlie.user)
    only = own_pool.members.get()
    before = _state()
    entra = client.post(f"{PAGE}members/{only.pk}/", _edit(only, auth_kind="entra"))
    assert entra.status_code == 400 and _error_for(entra, "auth_kind")
    disabled = client.post(f"{PAGE}members/{only.pk}/", _edit(only, enabled=None))  # the last one it can use
    assert disabled.status_code == 400 and "at least one enabled deployment" in _error_for(disabled, "enabled")
    taken = client.post(OWN_ADD, _post("addown", name="b-only"))
    assert taken.status_code == 400 and _error_for(taken, "name")
    last = client.post(f"{PAGE}members/{only.pk}/delete/", follow=True)
    assert "was not deleted" in last.content.decode()
    assert _state() == before


def test_isolation_a_tenant_admin_reaches_no_platform_member_and_no_other_tenants(
    alice, charlie, platform_pool, own_pool
):
    sweden = platform_pool.members.get(name="sweden")
    b_only = own_pool.members.get()
    before = _state()
    # Tenant B's admin and the platform's members; tenant A's admin (on the platform pool) and B's members.
    for client, member in ((signed_in(charlie.user), sweden), (signed_in(alice.user), b_only)):
        assert client.post(f"{PAGE}members/{member.pk}/", _edit(member, rpm="1")).status_code == 404
        assert client.post(f"{PAGE}members/{member.pk}/delete/").status_code == 404
    # A tenant on a platform pool has no own pool to add to; the operators' add form is not theirs either.
    assert signed_in(alice.user).post(OWN_ADD, _post("addown")).status_code == 404
    assert signed_in(charlie.user).post(f"{PAGE}{platform_pool.pk}/members/add/", _post("add")).status_code == 403
    assert _state() == before


def test_a_reviewer_of_the_tenant_gets_403_or_404_and_nothing_changes(charlie, own_pool):
    from tenants.models import Role
    from tests.support.actors import make_persona

    reviewer = make_persona("rex", tenant=charlie.tenant, role=Role.REVIEWER)
    client = signed_in(reviewer.user)
    member = own_pool.members.get()
    before = _state()
    assert client.get(PAGE).status_code == 403
    assert client.post(OWN_ADD, _post("addown")).status_code == 403
    assert client.post(f"{PAGE}members/{member.pk}/", _edit(member, rpm="1")).status_code == 404
    assert client.post(f"{PAGE}members/{member.pk}/delete/").status_code == 404
    assert _state() == before


def test_operators_still_edit_a_tenants_own_pool(own_pool):
    root = get_user_model().objects.create_superuser("root", password="pw-root")
    member = own_pool.members.get()
    response = signed_in(root).post(f"{PAGE}members/{member.pk}/", _edit(member, rpm="40"))
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.rpm == 40
