"""Tenant isolation and scopes for every tenant API endpoint.

The table below must name every object endpoint the API has: `test_every_object_endpoint_is_covered`
fails when a new endpoint appears without an isolation case.
"""

from __future__ import annotations

import io

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from PIL import Image
from rest_framework.test import APIClient

from dam.models import (
    Asset,
    AssetVersion,
    BulkOperation,
    Collection,
    Export,
    PublishWindow,
    ReviewDecision,
    WebhookDelivery,
    WebhookEndpoint,
)
from dam.services.bulk import BulkChange, bulk_operation_run, bulk_operation_start
from dam.services.exports import export_build, export_create
from generation.models import Campaign, Job, PoolMember
from generation.services.capacity import tenant_pool_member_add
from generation.services.submission import job_submit
from governance.models import AuditEvent, Budget, LedgerEntry, SafetyConfig
from tenants.audit import Actor
from tenants.models import ApiKey, BrandPolicy, Membership, Placement, Role
from tenants.services import brand_policy_update, placement_create
from tests.factories import approve_current, make_asset, make_webhook_delivery
from tests.support.actors import make_persona
from tests.support.errors import names_field

pytestmark = pytest.mark.django_db

# case id -> (route name, method, url template, how to find the tenant-A object id, body)
OBJECT_ENDPOINTS = {
    "api-key-detail": ("api-key-detail", "get", "/api/v1/api-keys/{id}", "api_key", None),
    "api-key-revoke": ("api-key-revoke", "post", "/api/v1/api-keys/{id}/revoke", "api_key", None),
    "membership-detail": ("membership-detail", "get", "/api/v1/memberships/{id}", "membership", None),
    "brand-policy-detail": ("brand-policy-detail", "get", "/api/v1/brand-policy/{id}", "brand_policy", None),
    "brand-policy-logo-file": (
        "brand-policy-logo-file",
        "get",
        "/api/v1/brand-policy/{id}/logo",
        "brand_policy",
        None,
    ),
    "placement-detail": ("placement-detail", "get", "/api/v1/placements/{id}", "placement", None),
    "placement-update": ("placement-detail", "patch", "/api/v1/placements/{id}", "placement", {"width": 640}),
    "placement-archive": ("placement-archive", "post", "/api/v1/placements/{id}/archive", "placement", None),
    "asset-detail": ("asset-detail", "get", "/api/v1/assets/{id}", "asset", None),
    "asset-versions": ("asset-versions", "get", "/api/v1/assets/{id}/versions", "asset", None),
    "job-detail": ("job-detail", "get", "/api/v1/jobs/{id}", "job", None),
    "job-cancel": ("job-cancel", "post", "/api/v1/jobs/{id}/cancel", "job", None),
    "storefront-asset-detail": (
        "storefront-asset-detail",
        "get",
        "/api/v1/storefront/assets/{id}",
        "storefront_asset",
        None,
    ),
    "storefront-asset-rendition": (
        "storefront-asset-rendition",
        "get",
        "/api/v1/storefront/assets/{id}/renditions/placement:pdp-square",
        "storefront_asset",
        None,
    ),
    "publish-window-detail": ("publish-window-detail", "get", "/api/v1/publish-windows/{id}", "version", None),
    "publish-window-update": (
        "publish-window-detail",
        "put",
        "/api/v1/publish-windows/{id}",
        "version",
        {"available_until": "2099-01-01T00:00:00Z"},
    ),
    "webhook-detail": ("webhook-detail", "get", "/api/v1/webhooks/{id}", "webhook", None),
    "webhook-update": ("webhook-detail", "patch", "/api/v1/webhooks/{id}", "webhook", {"description": "x"}),
    "webhook-rotate-secret": ("webhook-rotate-secret", "post", "/api/v1/webhooks/{id}/rotate-secret", "webhook", None),
    "webhook-delivery-detail": (
        "webhook-delivery-detail",
        "get",
        "/api/v1/webhook-deliveries/{id}",
        "webhook_delivery",
        None,
    ),
    "webhook-delivery-replay": (
        "webhook-delivery-replay",
        "post",
        "/api/v1/webhook-deliveries/{id}/replay",
        "webhook_delivery",
        None,
    ),
    # Review actions act on the versions review_data gives each asset: v1 approved, v2 published, v3 waiting.
    "safety-config-detail": ("safety-config-detail", "get", "/api/v1/safety-config/{id}", "safety_config", None),
    "asset-version-approve": ("asset-version-approve", "post", "/api/v1/assets/{id}/versions/3/approve", "asset", None),
    "asset-version-reject": (
        "asset-version-reject",
        "post",
        "/api/v1/assets/{id}/versions/3/reject",
        "asset",
        {"comment": "off brand"},
    ),
    "asset-version-publish": ("asset-version-publish", "post", "/api/v1/assets/{id}/versions/1/publish", "asset", None),
    "asset-version-unpublish": (
        "asset-version-unpublish",
        "post",
        "/api/v1/assets/{id}/versions/2/unpublish",
        "asset",
        None,
    ),
    "asset-version-reviews": ("asset-version-reviews", "get", "/api/v1/assets/{id}/versions/2/reviews", "asset", None),
    "asset-version-checks": ("asset-version-checks", "get", "/api/v1/assets/{id}/versions/2/checks", "asset", None),
    "asset-version-credentials": (
        "asset-version-credentials",
        "get",
        "/api/v1/assets/{id}/versions/2/credentials",
        "asset",
        None,
    ),
    "asset-version-credentials-rendition": (
        "asset-version-credentials",
        "get",
        "/api/v1/assets/{id}/versions/2/credentials?rendition=placement:pdp-square",
        "asset",
        None,
    ),
    "budget-detail": ("budget-detail", "get", "/api/v1/budgets/{id}", "budget", None),
    "budget-update": ("budget-detail", "patch", "/api/v1/budgets/{id}", "budget", {"monthly_limit_usd": "12.00"}),
    "audit-event-detail": ("audit-event-detail", "get", "/api/v1/audit/{id}", "audit_event", None),
    "asset-update": ("asset-detail", "patch", "/api/v1/assets/{id}", "asset", {"title": "renamed"}),
    "asset-version-metadata": (
        "asset-version",
        "patch",
        "/api/v1/assets/{id}/versions/1",
        "asset",
        {"focal_point": {"x": 0.3, "y": 0.6}, "alt_text": {"en": "moved"}},
    ),
    "collection-detail": ("collection-detail", "get", "/api/v1/collections/{id}", "collection", None),
    "collection-update": ("collection-detail", "patch", "/api/v1/collections/{id}", "collection", {"name": "x"}),
    "export-detail": ("export-detail", "get", "/api/v1/exports/{id}", "export", None),
    "export-download": ("export-download", "get", "/api/v1/exports/{id}/download", "export", None),
    "bulk-operation-detail": ("bulk-operation-detail", "get", "/api/v1/bulk-operations/{id}", "bulk_operation", None),
    "campaign-detail": ("campaign-detail", "get", "/api/v1/campaigns/{id}", "campaign", None),
    "campaign-update": ("campaign-detail", "patch", "/api/v1/campaigns/{id}", "campaign", {"brief": "changed"}),
    "campaign-versions": ("campaign-versions", "get", "/api/v1/campaigns/{id}/versions", "campaign", None),
    "campaign-run": ("campaign-run", "post", "/api/v1/campaigns/{id}/run", "campaign", {"dry_run": True}),
    "campaign-grid": ("campaign-grid", "get", "/api/v1/campaigns/{id}/grid", "campaign", None),
    "campaign-spend": ("campaign-spend", "get", "/api/v1/campaigns/{id}/spend", "campaign", None),
    "campaign-export": ("campaign-export", "post", "/api/v1/campaigns/{id}/export", "campaign", {"market": "en"}),
    # A deployment of the tenant's own pool (its DELETE: tests/generation/test_capacity_pool_api.py).
    "capacity-pool-member-detail": (
        "capacity-pool-member-detail",
        "get",
        "/api/v1/capacity/pool/members/{id}",
        "pool_member",
        None,
    ),
    "capacity-pool-member-update": (
        "capacity-pool-member-detail",
        "patch",
        "/api/v1/capacity/pool/members/{id}",
        "pool_member",
        {"rpm": 7},
    ),
}
LIST_ENDPOINTS = [
    "/api/v1/api-keys",
    "/api/v1/memberships",
    "/api/v1/brand-policy",
    "/api/v1/placements",
    "/api/v1/assets",
    "/api/v1/jobs",
    "/api/v1/storefront/assets",
    "/api/v1/webhooks",
    "/api/v1/webhook-deliveries",
    "/api/v1/safety-config",
    "/api/v1/reviews",
    "/api/v1/budgets",
    "/api/v1/audit",
    "/api/v1/costs/ledger",
    "/api/v1/collections",
    "/api/v1/exports",
    "/api/v1/bulk-operations",
    "/api/v1/campaigns",
    "/api/v1/capacity/pool/members",
]


def _logo_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 32), (20, 40, 90)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(autouse=True)
def brand_data(alice, charlie):
    for actor in (alice, charlie):
        brand_policy_update(tenant=actor.tenant, style_guide=f"{actor.tenant.slug} style", logo=_logo_png())
        placement_create(tenant=actor.tenant, slug="pdp-square", width=2048, height=2048, output_format="webp")
        asset = make_asset(actor.tenant, title=f"{actor.tenant.slug} hero")
        # A finished export (built here, not by a worker), so its download answers 200 to its own tenant.
        export = export_create(tenant=actor.tenant, selection={"version_ids": [asset.current_version_id]})
        export_build(export_id=export.pk)
        # A bulk operation (run here), so the tenant has one to read.
        operation = bulk_operation_start(
            tenant=actor.tenant, asset_ids=[asset.pk], change=BulkChange(action="tag", tags=["bulk"])
        )
        bulk_operation_run(operation_id=operation.pk)
        job_submit(tenant=actor.tenant, body={"prompt": f"{actor.tenant.slug} job"})
        tenant_pool_member_add(
            tenant=actor.tenant,
            values={"name": "own", "endpoint": "https://own.example.com", "deployment": "d", "region": "westeurope"},
            api_key="sk-own",
            actor=Actor.system("test"),
        )


def _object_ids(alice) -> dict[str, int]:
    return {
        "api_key": alice.api_key.pk,
        "membership": Membership.objects.for_tenant(alice.tenant).get(user=alice.user).pk,
        "brand_policy": BrandPolicy.objects.for_tenant(alice.tenant).get().pk,
        "placement": Placement.objects.for_tenant(alice.tenant).get().pk,
        "asset": Asset.objects.for_tenant(alice.tenant).get().pk,
        "job": Job.objects.for_tenant(alice.tenant).get().pk,
        "storefront_asset": Asset.objects.for_tenant(alice.tenant).get().pk,  # approved by storefront_data
        "webhook": WebhookEndpoint.objects.for_tenant(alice.tenant).get().pk,
        "webhook_delivery": WebhookDelivery.objects.for_tenant(alice.tenant).order_by("id").first().pk,
        "version": AssetVersion.objects.for_tenant(alice.tenant).order_by("id").first().pk,
        "safety_config": SafetyConfig.objects.for_tenant(alice.tenant).get().pk,
        "budget": Budget.objects.for_tenant(alice.tenant).get().pk,
        "audit_event": AuditEvent.objects.for_tenant(alice.tenant).order_by("seq").first().pk,
        "collection": Collection.objects.for_tenant(alice.tenant).get().pk,  # made by library_data
        "export": Export.objects.for_tenant(alice.tenant).get().pk,
        "bulk_operation": BulkOperation.objects.for_tenant(alice.tenant).get().pk,
        "campaign": Campaign.objects.for_tenant(alice.tenant).get().pk,  # made by campaign_data
        "pool_member": PoolMember.objects.get(pool__owner=alice.tenant).pk,
    }


def _call(actor_client, method: str, url: str, body):
    return getattr(actor_client, method)(url, body, format="json") if body else getattr(actor_client, method)(url)


def _snapshot(tenant) -> list:
    return [
        sorted(ApiKey.objects.for_tenant(tenant).values_list("id", "revoked_at", "name")),
        sorted(Membership.objects.for_tenant(tenant).values_list("id", "role")),
        sorted(BrandPolicy.objects.for_tenant(tenant).values_list("id", "version", "style_guide", "logo_id")),
        sorted(Placement.objects.for_tenant(tenant).values_list("id", "width", "archived")),
        sorted(AssetVersion.objects.for_tenant(tenant).values_list("id", "number", "status")),
        sorted(Job.objects.for_tenant(tenant).values_list("id", "state", "cancel_requested")),
        sorted(WebhookEndpoint.objects.for_tenant(tenant).values_list("id", "url", "description", "secret_encrypted")),
        sorted(WebhookDelivery.objects.for_tenant(tenant).values_list("id", "status", "attempts")),
        sorted(PublishWindow.objects.for_tenant(tenant).values_list("version_id", "available_until")),
        sorted(SafetyConfig.objects.for_tenant(tenant).values_list("id", "version")),
        sorted(ReviewDecision.objects.for_tenant(tenant).values_list("id", "action")),
        sorted(Budget.objects.for_tenant(tenant).values_list("id", "monthly_limit_usd", "active")),
        sorted(LedgerEntry.objects.for_tenant(tenant).values_list("id", "amount_usd")),
        sorted(Asset.objects.for_tenant(tenant).values_list("id", "title", "collection_id")),
        sorted(AssetVersion.objects.for_tenant(tenant).values_list("id", "focal_x", "focal_y")),
        sorted(str(row) for row in AssetVersion.objects.for_tenant(tenant).values_list("id", "alt_text")),
        sorted(Collection.objects.for_tenant(tenant).values_list("id", "slug", "name")),
        sorted(Export.objects.for_tenant(tenant).values_list("id", "state", "files_done")),
        sorted(BulkOperation.objects.for_tenant(tenant).values_list("id", "state", "processed")),
        sorted(Campaign.objects.for_tenant(tenant).values_list("id", "name", "version", "archived")),
        sorted(PoolMember.objects.filter(pool__owner=tenant).values_list("id", "rpm", "api_key_ciphertext")),
    ]


def _named_api_routes(patterns, prefix="") -> set[str]:
    names: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            names |= _named_api_routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif (
            isinstance(pattern, URLPattern)
            and (prefix + str(pattern.pattern)).startswith("api/v1/")
            and "pk" in pattern.pattern.regex.groupindex
        ):
            names.add(pattern.name)
    return names


def test_every_object_endpoint_is_covered():
    assert _named_api_routes(get_resolver().url_patterns) == {case[0] for case in OBJECT_ENDPOINTS.values()}


@pytest.mark.parametrize("case", sorted(OBJECT_ENDPOINTS))
def test_tenant_b_key_gets_404_on_tenant_a_objects_and_nothing_changes(case, alice, charlie):
    _, method, template, kind, body = OBJECT_ENDPOINTS[case]
    url = template.format(id=_object_ids(alice)[kind])
    before = _snapshot(alice.tenant)
    response = _call(charlie.client(), method, url, body)
    assert response.status_code == 404
    assert _snapshot(alice.tenant) == before
    # The same request from tenant A's own admin succeeds: the 404 is isolation, not a broken URL
    # (202: an export accepted).
    assert _call(alice.client(), method, url, body).status_code in (200, 202)


@pytest.mark.parametrize("case", sorted(OBJECT_ENDPOINTS))
def test_tenant_b_staff_session_gets_404_on_tenant_a_objects(case, alice, charlie):
    _, method, template, kind, body = OBJECT_ENDPOINTS[case]
    url = template.format(id=_object_ids(alice)[kind])
    client = APIClient()
    client.force_login(charlie.user)
    before = _snapshot(alice.tenant)
    assert _call(client, method, url, body).status_code == 404
    # Naming tenant A does not help a non-member: the tenant itself is not found.
    client.credentials(HTTP_X_TENANT="tenant-a")
    assert _call(client, method, url, body).status_code == 404
    assert _snapshot(alice.tenant) == before


@pytest.mark.parametrize("url", LIST_ENDPOINTS)
def test_lists_show_only_the_callers_tenant(url, alice, bob, charlie):
    ids_b = {item["id"] for item in charlie.client().get(url).json()["results"]}
    ids_a = {item["id"] for item in alice.client().get(url).json()["results"]}
    assert ids_a and ids_b and not (ids_a & ids_b)


def test_a_viewer_key_cannot_call_write_endpoints_and_nothing_changes(alice):
    viewer = make_persona("vera", tenant=alice.tenant, role=Role.VIEWER)
    before = _snapshot(alice.tenant)
    api = viewer.client()
    create = api.post("/api/v1/api-keys", {"name": "x", "scopes": ["admin"]}, format="json")
    ids = _object_ids(alice)
    denied = [
        api.post(f"/api/v1/api-keys/{alice.api_key.pk}/revoke"),
        api.put("/api/v1/brand-policy/current", {"style_guide": "x"}, format="json"),
        api.put("/api/v1/brand-policy/logo", {"logo": io.BytesIO(_logo_png())}, format="multipart"),
        api.delete("/api/v1/brand-policy/logo"),
        api.post("/api/v1/placements", {"slug": "x", "width": 100, "height": 100}, format="json"),
        api.patch(f"/api/v1/placements/{ids['placement']}", {"width": 100}, format="json"),
        api.post(f"/api/v1/placements/{ids['placement']}/archive"),
    ]
    assert create.status_code == 403 and "admin" in create.json()["detail"]
    assert [r.status_code for r in denied] == [403] * len(denied)
    assert _snapshot(alice.tenant) == before


def test_a_viewer_session_follows_the_role(alice, client):
    client.force_login(make_persona("vera", tenant=alice.tenant, role=Role.VIEWER).user)
    assert client.get("/api/v1/tenant").json()["scopes"] == ["assets:read", "costs:read", "jobs:read"]
    assert client.get("/api/v1/api-keys").status_code == 403


def test_a_staff_member_of_several_tenants_must_name_one(alice, tenant_b, client):
    from tenants.services import membership_set

    membership_set(tenant=tenant_b, user=alice.user, role="viewer")
    client.force_login(alice.user)
    response = client.get("/api/v1/tenant")
    assert response.status_code == 400 and names_field(response, "X-Tenant")
    assert client.get("/api/v1/tenant", HTTP_X_TENANT="tenant-b").json()["slug"] == "tenant-b"


def test_unauthenticated_requests_are_401(db, client):
    assert client.get("/api/v1/api-keys").status_code in (401, 403)
    assert client.get("/api/v1/tenant").status_code in (401, 403)


@pytest.fixture(autouse=True)
def storefront_data(brand_data, alice, charlie):
    """Storefront endpoints show approved versions only; webhook endpoints need an endpoint and a delivery."""
    for actor in (alice, charlie):
        approve_current(Asset.objects.for_tenant(actor.tenant).get())
        make_webhook_delivery(actor.tenant)


@pytest.fixture(autouse=True)
def review_data(storefront_data, alice, charlie):
    """Each asset gets v2 (published, with the storefront's square rendition) and v3 (waiting for review)."""
    from dam.blobs import blob_put
    from dam.lifecycle import VersionStatus
    from dam.services.assets import asset_version_create
    from tests.factories import add_rendition, png_bytes, set_status

    for actor in (alice, charlie):
        asset = Asset.objects.for_tenant(actor.tenant).get()
        published, _waiting = (
            asset_version_create(
                asset=asset,
                blob=blob_put(
                    tenant_id=actor.tenant.pk, kind="originals", data=png_bytes(colour=c), image_format="png"
                ),
                width=64,
                height=48,
                image_format="png",
            )
            for c in ((30, 160, 90), (90, 30, 160))
        )
        add_rendition(published, "placement:pdp-square", width=32, height=32, image_format="jpeg")
        set_status(published, VersionStatus.APPROVED)
        set_status(published, VersionStatus.PUBLISHED)


@pytest.fixture(autouse=True)
def governance_data(alice, charlie):
    """A budget and a ledger charge in each tenant (their audit trails exist from the start)."""
    from django.utils import timezone

    from governance.services.budgets import budget_set
    from governance.services.ledger import ledger_charge_response
    from tenants.audit import Actor

    for actor in (alice, charlie):
        budget_set(tenant=actor.tenant, actor=Actor.system("test"), monthly_limit_usd="10.00")
        ledger_charge_response(
            tenant=actor.tenant,
            job_id=None,
            provider_request_id=f"isolation-{actor.tenant.slug}",
            usage={"output_tokens": 7024},
            occurred_at=timezone.now(),
        )


@pytest.fixture(autouse=True)
def library_data(brand_data, alice, charlie):
    """Collection endpoints need a collection in each tenant."""
    from dam.services.metadata import collection_create

    for actor in (alice, charlie):
        collection_create(tenant=actor.tenant, slug="campaign", name=f"{actor.tenant.slug} campaign")


@pytest.fixture(autouse=True)
def campaign_data(brand_data, alice, charlie):
    """Campaign endpoints need a campaign in each tenant."""
    from generation.services.campaigns import campaign_create

    for actor in (alice, charlie):
        campaign_create(
            tenant=actor.tenant,
            name=f"{actor.tenant.slug} campaign",
            markets=[{"locale": "en", "copy": "Sale"}],
            placements=["pdp-square"],
            creatives=[{"key": "hero", "prompt": "A tent"}],
        )
        # The tenant's asset filed as the campaign's output, so that the campaign's export has something to pack.
        Asset.objects.for_tenant(actor.tenant).update(
            campaign_id=Campaign.objects.for_tenant(actor.tenant).get().pk, creative="hero", locale="en"
        )
