"""A tenant's admins manage the deployments of the tenant's own pool over the API (`/api/v1/capacity/pool/members`):
through the capacity services (audited, keys encrypted and never returned), admin only, bad input named by field,
and never a platform pool or another tenant's."""

from __future__ import annotations

import pytest

from generation.models import DeploymentPool, PoolMember, TenantCapacity
from generation.selectors import pools as pool_selectors
from generation.services.capacity import pool_create, pool_member_save, tenant_capacity_set
from governance.models import AuditEvent
from tenants.audit import Actor
from tests.support.errors import names_field

pytestmark = pytest.mark.django_db

MEMBERS = "/api/v1/capacity/pool/members"
OPERATOR = Actor.system("test-operator")
KEY = "sk-tenant-own-key-0123456789"


@pytest.fixture(autouse=True)
def fresh_routes(settings):
    settings.DISPATCH_KEY_PREFIX = f"{settings.DISPATCH_KEY_PREFIX}:own:{id(settings)}"
    pool_selectors._routes.clear()
    pool_selectors._dispatcher.cache_clear()
    yield
    pool_selectors._routes.clear()
    pool_selectors._dispatcher.cache_clear()


def _body(name: str = "sweden-1", **values) -> dict:
    return {
        "name": name,
        "endpoint": f"https://{name}.openai.azure.com",
        "deployment": "gpt-image-2",
        "api_key": KEY,
        "region": "swedencentral",
        "data_zone": "eu",
        "deployment_type": "data_zone",
        "rpm": 10,
        **values,
    }


def _operator_member(pool: DeploymentPool, name: str, **values) -> PoolMember:
    member = PoolMember(
        pool=pool,
        name=name,
        endpoint=f"https://{name}.openai.azure.com",
        deployment="gpt-image-2",
        region=values.pop("region", "swedencentral"),
        rpm=30,
        **values,
    )
    return pool_member_save(member=member, actor=OPERATOR, api_key="sk-operator-key-000")


@pytest.fixture
def platform_pool(alice) -> DeploymentPool:
    """The platform's pool, serving tenant A at the weight an operator gave it."""
    pool = pool_create(name="platform-eu", owner=None, actor=OPERATOR)
    _operator_member(pool, "platform-sweden")
    tenant_capacity_set(tenant=alice.tenant, actor=OPERATOR, pool=pool, weight=3)
    return pool


@pytest.fixture
def own_member_a(alice) -> PoolMember:
    response = alice.client().post(MEMBERS, _body("a-own"), format="json")
    assert response.status_code == 201, response.content
    return PoolMember.objects.get(pk=response.json()["id"])


@pytest.fixture
def own_member_b(charlie) -> PoolMember:
    response = charlie.client().post(MEMBERS, _body("b-own"), format="json")
    assert response.status_code == 201, response.content
    return PoolMember.objects.get(pk=response.json()["id"])


def _members_of(tenant) -> list[tuple]:
    return sorted(
        PoolMember.objects.filter(pool__owner=tenant).values_list(
            "id", "name", "endpoint", "rpm", "priority", "enabled", "region", "api_key_ciphertext"
        )
    )


def _everything() -> list:
    """Every pool, member and capacity row: what a refused request must leave as it was."""
    return [
        sorted(DeploymentPool.objects.values_list("id", "name", "owner_id")),
        sorted(PoolMember.objects.values_list("id", "pool_id", "name", "rpm", "enabled", "api_key_ciphertext")),
        sorted(TenantCapacity.unscoped.values_list("tenant_id", "pool_id", "weight")),
    ]


def test_the_first_deployment_creates_the_tenants_own_pool_and_moves_the_tenant_onto_it(alice, platform_pool):
    response = alice.client().post(MEMBERS, _body(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert "api_key" not in body and body["has_api_key"] is True and KEY not in response.content.decode()
    member = PoolMember.objects.select_related("pool").get(pk=body["id"])
    assert member.pool.owner_id == alice.tenant.pk and body["pool"] == member.pool_id
    assert KEY not in member.api_key_ciphertext and member.api_key().reveal() == KEY  # encrypted at rest
    capacity = TenantCapacity.objects.for_tenant(alice.tenant).get()
    assert capacity.pool_id == member.pool_id
    assert capacity.weight == 3  # the scheduler weight stays the operator's
    capacity_body = alice.client().get("/api/v1/capacity").json()
    assert capacity_body["pool_is_own"] is True and capacity_body["pool"] == member.pool.name
    assert [d["name"].rsplit("/", 1)[1] for d in capacity_body["deployments"]] == ["sweden-1"]
    actions = list(AuditEvent.objects.for_tenant(alice.tenant).values_list("action", flat=True))
    assert {"pool.created", "pool.member_created", "capacity.updated"} <= set(actions)
    assert not any(KEY in str(payload) for payload in AuditEvent.objects.for_tenant(alice.tenant).values("payload"))
    # A second one joins the same pool; the platform pool is untouched.
    second = alice.client().post(MEMBERS, _body("france-1", region="francecentral"), format="json")
    assert second.status_code == 201 and second.json()["pool"] == member.pool_id
    assert {m["name"] for m in alice.client().get(MEMBERS).json()["results"]} == {"sweden-1", "france-1"}
    assert list(platform_pool.members.values_list("name", flat=True)) == ["platform-sweden"]


def test_a_patch_changes_the_member_and_a_new_key_replaces_the_stored_one_unseen(alice, own_member_a):
    before = own_member_a.api_key_ciphertext
    response = alice.client().patch(
        f"{MEMBERS}/{own_member_a.pk}", {"rpm": 12, "api_key": "sk-rotated-key-9876"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["rpm"] == 12 and "api_key" not in response.json()
    own_member_a.refresh_from_db()
    assert own_member_a.api_key_ciphertext != before and own_member_a.api_key().reveal() == "sk-rotated-key-9876"
    event = AuditEvent.objects.for_tenant(alice.tenant).filter(action="pool.member_updated").latest("seq")
    assert event.payload["api_key"] == "replaced" and "sk-rotated" not in str(event.payload)
    inside = alice.client().patch(
        f"{MEMBERS}/{own_member_a.pk}", {"endpoint": "https://169.254.169.254"}, format="json"
    )
    assert inside.status_code == 400 and names_field(inside, "endpoint")
    # Without a key, the stored one stays.
    assert alice.client().patch(f"{MEMBERS}/{own_member_a.pk}", {"priority": 1}, format="json").status_code == 200
    own_member_a.refresh_from_db()
    assert own_member_a.api_key().reveal() == "sk-rotated-key-9876" and own_member_a.priority == 1


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"rpm": 0}, "rpm", 400),
        ({"region": "Sweden Central"}, "region", 400),
        ({"endpoint": "not a url"}, "endpoint", 400),
        ({"auth_kind": "entra"}, "auth_kind", 400),  # the platform's identity never goes to a tenant's endpoint
        ({"api_key": None}, "api_key", 400),
        ({"weight": 0}, "weight", 400),
        ({"colour": "red"}, "colour", 400),
        # The workers send prompts and the key there: https, and never a host inside the platform's network.
        ({"endpoint": "http://sweden-1.openai.azure.com"}, "endpoint", 400),
        ({"endpoint": "https://169.254.169.254/metadata"}, "endpoint", 400),
        ({"endpoint": "https://127.0.0.1:6379"}, "endpoint", 400),
        ({"endpoint": "https://10.0.0.5"}, "endpoint", 400),
        ({"endpoint": "https://[::1]:8765"}, "endpoint", 400),
        # The metadata service inside an IPv6 form (NAT64, 6to4): global to ipaddress, internal once delivered.
        ({"endpoint": "https://[64:ff9b::a9fe:a9fe]"}, "endpoint", 400),
        ({"endpoint": "https://[2002:a9fe:a9fe::1]"}, "endpoint", 400),
        ({"endpoint": "https://localhost:8765"}, "endpoint", 400),
        ({"endpoint": "https://redis.internal"}, "endpoint", 400),
    ],
)
def test_bad_input_is_a_problem_naming_the_field_and_changes_nothing(alice, platform_pool, body, field, status):
    before = _everything()
    payload = {k: v for k, v in {**_body(), **body}.items() if v is not None}
    response = alice.client().post(MEMBERS, payload, format="json")
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json" and names_field(response, field)
    assert _everything() == before


def test_a_key_is_needed_for_a_new_deployment_and_names_are_unique_in_the_pool(alice, own_member_a):
    before = _everything()
    no_key = alice.client().post(MEMBERS, {**_body("no-key"), "api_key": None} | {}, format="json")
    body = _body("keyless")
    del body["api_key"]
    keyless = alice.client().post(MEMBERS, body, format="json")
    assert keyless.status_code == 400 and names_field(keyless, "api_key"), keyless.content
    assert no_key.status_code == 400
    taken = alice.client().post(MEMBERS, _body("a-own"), format="json")
    assert taken.status_code == 409 and names_field(taken, "name"), taken.content
    renamed = PoolMember.objects.create(
        pool=own_member_a.pool,
        name="other",
        endpoint="https://o.example.com",
        deployment="d",
        region="westeurope",
        rpm=5,
        api_key_ciphertext="x",
    )
    clash = alice.client().patch(f"{MEMBERS}/{renamed.pk}", {"name": "a-own"}, format="json")
    assert clash.status_code == 409 and names_field(clash, "name")
    renamed.delete()
    assert _everything() == before


def test_the_tenant_keeps_one_deployment_it_can_use(alice, own_member_a):
    before = _everything()
    last = alice.client().delete(f"{MEMBERS}/{own_member_a.pk}")
    assert last.status_code == 409 and names_field(last, "id"), last.content
    disabled = alice.client().patch(f"{MEMBERS}/{own_member_a.pk}", {"enabled": False}, format="json")
    assert disabled.status_code == 409 and names_field(disabled, "enabled")
    assert _everything() == before
    # With a second deployment, the first may go.
    second = alice.client().post(MEMBERS, _body("second", region="westeurope"), format="json")
    assert second.status_code == 201
    assert alice.client().delete(f"{MEMBERS}/{own_member_a.pk}").status_code == 204
    assert not PoolMember.objects.filter(pk=own_member_a.pk).exists()
    assert AuditEvent.objects.for_tenant(alice.tenant).filter(action="pool.member_deleted").exists()


def test_residency_refuses_a_first_deployment_outside_it(alice, platform_pool):
    tenant_capacity_set(tenant=alice.tenant, actor=OPERATOR, allowed_regions=["swedencentral", "francecentral"])
    before = _everything()
    response = alice.client().post(MEMBERS, _body("virginia", region="eastus2", data_zone="us"), format="json")
    assert response.status_code == 409 and names_field(response, "region"), response.content
    assert _everything() == before  # no pool made, the tenant still on the platform's


def test_only_admins_manage_the_pool(alice, bob, own_member_a):
    before = _everything()
    reviewer = bob.client()
    assert reviewer.get(MEMBERS).status_code == 403
    assert reviewer.post(MEMBERS, _body("x"), format="json").status_code == 403
    assert reviewer.patch(f"{MEMBERS}/{own_member_a.pk}", {"rpm": 1}, format="json").status_code == 403
    assert reviewer.delete(f"{MEMBERS}/{own_member_a.pk}").status_code == 403
    assert _everything() == before


# --- isolation: another tenant, and the platform's pools ---------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "body"),
    [("get", None), ("patch", {"rpm": 1, "api_key": "sk-stolen"}), ("delete", None)],
)
@pytest.mark.usefixtures("own_member_b")  # B has a pool of its own too
def test_isolation_another_tenant_gets_404_for_a_member_and_nothing_changes(alice, charlie, own_member_a, method, body):
    before = _everything()
    url = f"{MEMBERS}/{own_member_a.pk}"
    response = (
        getattr(charlie.client(), method)(url, body, format="json") if body else getattr(charlie.client(), method)(url)
    )
    assert response.status_code == 404, response.content
    assert _everything() == before
    assert own_member_a.pk not in {m["id"] for m in charlie.client().get(MEMBERS).json()["results"]}
    # The same request from tenant A's admin reaches it: the 404 is isolation, not a broken URL.
    if method != "delete":
        mine = getattr(alice.client(), method)(url, body, format="json") if body else alice.client().get(url)
        assert mine.status_code == 200


@pytest.mark.parametrize(("method", "body"), [("get", None), ("patch", {"enabled": False}), ("delete", None)])
def test_isolation_a_platform_pool_member_is_no_member_to_a_tenant(alice, platform_pool, method, body):
    member = platform_pool.members.get()
    before = _everything()
    url = f"{MEMBERS}/{member.pk}"
    client = alice.client()
    response = getattr(client, method)(url, body, format="json") if body else getattr(client, method)(url)
    assert response.status_code == 404
    assert client.get(MEMBERS).json()["results"] == []
    assert _everything() == before


def test_isolation_a_pool_of_another_tenant_is_never_joined_or_extended(alice, charlie, own_member_b):
    """Tenant A adds its own first deployment: it gets a pool of its own, never B's (which B uses)."""
    before_b = _members_of(charlie.tenant)
    response = alice.client().post(MEMBERS, _body("a-first"), format="json")
    assert response.status_code == 201
    assert response.json()["pool"] != own_member_b.pool_id
    assert _members_of(charlie.tenant) == before_b
    assert TenantCapacity.objects.for_tenant(charlie.tenant).get().pool_id == own_member_b.pool_id


def test_a_tenant_moved_onto_a_pool_has_the_pools_deployments_in_its_chain(alice):
    """A platform pool's changes are recorded on its tenants' chains; while it serves nobody they are on none. The
    tenant's move onto it records the deployments it then has (never a key), so no change that affects a tenant
    is missing from its trail."""
    pool = pool_create(name="platform-spare", owner=None, actor=OPERATOR)
    _operator_member(pool, "spare-sweden")
    _operator_member(pool, "spare-france", region="francecentral", priority=1)
    tenant_capacity_set(tenant=alice.tenant, actor=OPERATOR, pool=pool)
    tenant_capacity_set(tenant=alice.tenant, actor=OPERATOR, weight=2)  # same pool: no snapshot again
    moved, reweighted = AuditEvent.objects.for_tenant(alice.tenant).filter(action="capacity.updated").order_by("id")
    members = moved.payload["pool"]["members"]
    assert moved.payload["pool"]["name"] == "platform-spare"
    assert [(m["name"], m["region"], m["rpm"]) for m in members] == [
        ("spare-sweden", "swedencentral", 30),
        ("spare-france", "francecentral", 30),
    ]
    assert all(m["has_api_key"] is True and "api_key" not in m for m in members)
    assert "sk-operator-key-000" not in str(moved.payload)
    assert "pool" not in reweighted.payload
