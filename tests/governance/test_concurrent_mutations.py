"""Concurrent writes on one object, through the REST API: no 5xx, no deadlock, a delete is final,
and the tenant's audit chain stays valid.

Each thread has its own API client and its own database connection (`run_concurrently`), so the
requests really race in Postgres. Every service takes its locks in the documented order (the
object's rows first, the audit chain head last: docs/audit-and-costs.md, "Lock order"); a service
that took them the other way round deadlocks against its neighbour here, and a full `save()` after
a concurrent DELETE re-inserts the row (Django INSERTs when its UPDATE touches nothing).

`deadlock_timeout` is lowered so that Postgres reports a deadlock in milliseconds rather than a
second, and `lock_timeout` bounds any wait, so a lock-order bug fails fast instead of hanging.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from dam.lifecycle import VersionStatus
from dam.models import AssetVersion, Collection, PublishWindow, WebhookEndpoint
from governance.models import AuditEvent, Budget, SafetyConfig
from governance.services.audit import audit_verify
from tenants.models import ApiKey, BrandPolicy, Membership, Placement, Role, Scope
from tenants.services import membership_set
from tests.factories import make_api_key, make_asset, make_user
from tests.support.concurrency import run_concurrently

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROUNDS = 3
ANSWERED = {200, 201, 204, 400, 404, 409}

Request = Callable[[Any], Any]  # takes an APIClient, returns its response


def race(actor, requests: list[Request]) -> list[int]:
    """Send every request at once, each from its own thread and connection; return the status codes.

    A thread that raised (Django's test client re-raises a view's exception: a deadlock, a lock
    timeout, an IntegrityError) fails the test with that exception."""

    def send(index: int) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SET deadlock_timeout = '20ms'")
            cursor.execute("SET lock_timeout = '5s'")
        return requests[index](actor.client()).status_code

    results = run_concurrently(len(requests), send, timeout=60)
    raised = [result for result in results if isinstance(result, BaseException)]
    assert not raised, raised
    assert set(results) <= ANSWERED, results
    return results


def chain_is_valid(tenant) -> None:
    report = audit_verify(tenant=tenant)
    assert report.ok, report.first_break


def events(tenant, action: str, target_id: int) -> int:
    return AuditEvent.objects.for_tenant(tenant).filter(action=action, target_id=str(target_id)).count()


def webhook_requests(url: str) -> list[Request]:
    return [
        lambda c: c.patch(url, {"description": "renamed"}, format="json"),
        lambda c: c.post(f"{url}/rotate-secret"),
        lambda c: c.delete(url),
        lambda c: c.patch(url, {"active": False}, format="json"),
        lambda c: c.post(f"{url}/rotate-secret"),
        lambda c: c.delete(url),
        lambda c: c.patch(url, {"events": ["job.failed"]}, format="json"),
    ]


def test_webhook_endpoint_patch_rotate_delete(alice):
    for _round in range(ROUNDS):
        created = alice.client().post(
            "/api/v1/webhooks", {"url": "http://127.0.0.1:9/hook", "events": ["asset.approved"]}, format="json"
        )
        assert created.status_code == 201, created.content
        endpoint_id = created.json()["id"]
        url = f"/api/v1/webhooks/{endpoint_id}"
        statuses = race(alice, webhook_requests(url))
        assert sorted(statuses[i] for i in (2, 5)) == [204, 404], statuses
        # The delete is final: no concurrent PATCH or rotation saved the row back.
        assert not WebhookEndpoint.unscoped.filter(pk=endpoint_id).exists()
        assert alice.client().patch(url, {"description": "again"}, format="json").status_code == 404
        assert events(alice.tenant, "webhook.deleted", endpoint_id) == 1
    chain_is_valid(alice.tenant)


def collection_requests(url: str, asset_url: str, slug: str) -> list[Request]:
    return [
        lambda c: c.patch(url, {"name": "Summer 26"}, format="json"),
        lambda c: c.delete(url),
        lambda c: c.patch(asset_url, {"collection": slug}, format="json"),
        lambda c: c.patch(url, {"name": "Summer EU"}, format="json"),
        lambda c: c.delete(url),
        lambda c: c.patch(asset_url, {"collection": slug, "title": "moved"}, format="json"),
    ]


def test_collection_rename_delete_and_assets_moving_into_it(alice):
    asset = make_asset(alice.tenant)
    for round_ in range(ROUNDS):
        slug = f"summer-{round_}"
        created = alice.client().post("/api/v1/collections", {"slug": slug, "name": "Summer"}, format="json")
        assert created.status_code == 201, created.content
        collection_id = created.json()["id"]
        statuses = race(
            alice, collection_requests(f"/api/v1/collections/{collection_id}", f"/api/v1/assets/{asset.pk}", slug)
        )
        assert sorted(statuses[i] for i in (1, 4)) == [204, 404], statuses
        assert not Collection.unscoped.filter(pk=collection_id).exists()
        asset.refresh_from_db()
        assert asset.collection_id is None  # it went out with its collection, or never got in
        assert events(alice.tenant, "collection.deleted", collection_id) == 1
    chain_is_valid(alice.tenant)


def placement_requests(url: str) -> list[Request]:
    return [
        lambda c: c.patch(url, {"width": 1200}, format="json"),
        lambda c: c.post(f"{url}/archive"),
        lambda c: c.patch(url, {"name": "Hero banner"}, format="json"),
        lambda c: c.post(f"{url}/archive"),
        lambda c: c.patch(url, {"compression": 70, "height": 600}, format="json"),
    ]


def test_placement_patch_and_archive(alice):
    for round_ in range(ROUNDS):
        created = alice.client().post(
            "/api/v1/placements", {"slug": f"hero-{round_}", "width": 800, "height": 400}, format="json"
        )
        assert created.status_code == 201, created.content
        placement_id = created.json()["id"]
        statuses = race(alice, placement_requests(f"/api/v1/placements/{placement_id}"))
        assert statuses == [200] * 5, statuses
        placement = Placement.objects.for_tenant(alice.tenant).get(pk=placement_id)
        # Archived stays archived, and every PATCH landed on the row as it was, not on a stale copy.
        assert placement.archived and (placement.width, placement.height, placement.compression) == (1200, 600, 70)
        assert placement.name == "Hero banner"
        assert events(alice.tenant, "placement.archived", placement_id) == 1
    chain_is_valid(alice.tenant)


def key_and_budget_requests(key_id: int, budget_url: str) -> list[Request]:
    return [
        lambda c: c.post(f"/api/v1/api-keys/{key_id}/revoke"),
        lambda c: c.patch(budget_url, {"monthly_limit_usd": "120.00"}, format="json"),
        lambda c: c.post("/api/v1/budgets", {"api_key": key_id, "monthly_limit_usd": "5.00"}, format="json"),
        lambda c: c.post(f"/api/v1/api-keys/{key_id}/revoke"),
        lambda c: c.patch(budget_url, {"alert_threshold_percent": 90}, format="json"),
        lambda c: c.post("/api/v1/budgets", {"api_key": key_id, "monthly_limit_usd": "7.00"}, format="json"),
        lambda c: c.post("/api/v1/api-keys", {"name": "another", "scopes": [Scope.JOBS_READ]}, format="json"),
    ]


def test_api_keys_and_budgets(alice):
    tenant_budget = alice.client().post("/api/v1/budgets", {"monthly_limit_usd": "100.00"}, format="json")
    assert tenant_budget.status_code == 201, tenant_budget.content
    budget_url = f"/api/v1/budgets/{tenant_budget.json()['id']}"
    for round_ in range(ROUNDS):
        key_id = make_api_key(alice.tenant, Scope.JOBS_WRITE, name=f"ci-{round_}").api_key.pk
        statuses = race(alice, key_and_budget_requests(key_id, budget_url))
        assert [statuses[i] for i in (0, 1, 3, 4, 6)] == [200, 200, 200, 200, 201], statuses
        assert sorted(statuses[i] for i in (2, 5)) == [201, 409], statuses  # one budget per scope
        assert ApiKey.objects.for_tenant(alice.tenant).get(pk=key_id).revoked_at is not None
        assert events(alice.tenant, "api_key.revoked", key_id) == 1
        assert Budget.objects.for_tenant(alice.tenant).filter(api_key_id=key_id).count() == 1
    budget = Budget.objects.for_tenant(alice.tenant).get(api_key__isnull=True)
    assert (budget.monthly_limit_usd, budget.alert_threshold_percent) == (Decimal("120.00"), 90)
    chain_is_valid(alice.tenant)


def test_brand_policy_and_safety_config_versions(alice):
    requests: list[Request] = []
    for index in range(3):
        requests.append(
            lambda c, index=index: c.patch(
                "/api/v1/brand-policy/current", {"style_guide": f"guide {index}"}, format="json"
            )
        )
        requests.append(
            lambda c, index=index: c.patch(
                "/api/v1/safety-config/current", {"blocklist": [{"text": f"banned{index}"}]}, format="json"
            )
        )
    statuses = race(alice, requests)
    assert statuses == [201] * len(requests), statuses
    assert sorted(BrandPolicy.objects.for_tenant(alice.tenant).values_list("version", flat=True)) == [1, 2, 3]
    assert sorted(SafetyConfig.objects.for_tenant(alice.tenant).values_list("version", flat=True)) == [1, 2, 3]
    chain_is_valid(alice.tenant)


def test_memberships(alice):
    """Memberships have no write endpoint in the REST API (the staff admin sets roles): the service
    the admin calls is raced directly, from threads with their own connections."""
    dave = make_user("dave")
    roles = [Role.EDITOR, Role.REVIEWER, Role.VIEWER, Role.ADMIN, Role.EDITOR, Role.VIEWER]

    def set_role(index: int) -> str:
        with connection.cursor() as cursor:
            cursor.execute("SET deadlock_timeout = '20ms'")
            cursor.execute("SET lock_timeout = '5s'")
        return membership_set(tenant=alice.tenant, user=dave, role=roles[index]).role

    results = run_concurrently(len(roles), set_role, timeout=60)
    assert not [r for r in results if isinstance(r, BaseException)], results
    membership = Membership.objects.for_tenant(alice.tenant).get(user=dave)
    assert membership.role in roles
    chain_is_valid(alice.tenant)


def asset_metadata_requests(asset_url: str, version_url: str, window_url: str, round_: int) -> list[Request]:
    window = {"available_from": "2026-06-01T00:00:00Z", "available_until": "2026-09-01T00:00:00Z"}
    return [
        # A review locks the asset, then moves the version: metadata writes must take the same order.
        lambda c: c.post(f"{version_url}/reject", {"comment": "off-brand red"}, format="json"),
        lambda c: c.patch(asset_url, {"title": "Red sneaker"}, format="json"),
        lambda c: c.patch(asset_url, {"tags": ["sneakers", "summer"]}, format="json"),
        lambda c: c.patch(version_url, {"focal_point": {"x": 0.25, "y": 0.5}}, format="json"),
        lambda c: c.patch(version_url, {"alt_text": {"en": f"A red sneaker {round_}"}}, format="json"),
        lambda c: c.put(window_url, window, format="json"),
        lambda c: c.put(window_url, {"available_from": None, "available_until": None}, format="json"),
        lambda c: c.put(window_url, window, format="json"),
        lambda c: c.patch(version_url, {"alt_text": {"ja-JP": f"赤いスニーカー {round_}"}}, format="json"),
        lambda c: c.patch(asset_url, {"locale": "en-GB"}, format="json"),
    ]


def test_asset_metadata(alice):
    asset = make_asset(alice.tenant)
    version = AssetVersion.objects.for_tenant(alice.tenant).get(asset=asset)
    for round_ in range(ROUNDS):
        AssetVersion.objects.for_tenant(alice.tenant).filter(pk=version.pk).update(status=VersionStatus.NEEDS_REVIEW)
        statuses = race(
            alice,
            asset_metadata_requests(
                f"/api/v1/assets/{asset.pk}",
                f"/api/v1/assets/{asset.pk}/versions/{version.number}",
                f"/api/v1/publish-windows/{version.pk}",
                round_,
            ),
        )
        assert statuses[1:] == [200] * 9 and statuses[0] in (200, 201), statuses
        asset.refresh_from_db()
        version.refresh_from_db()
        assert (asset.title, asset.tags, asset.locale) == ("Red sneaker", ["sneakers", "summer"], "en-GB")
        assert (version.focal_x, version.focal_y) == (0.25, 0.5)
        assert version.alt_text == {"en": f"A red sneaker {round_}", "ja-JP": f"赤いスニーカー {round_}"}
        assert version.status == VersionStatus.REJECTED
        assert PublishWindow.objects.for_tenant(alice.tenant).filter(version=version).count() <= 1
    chain_is_valid(alice.tenant)


def test_a_patch_that_read_the_endpoint_before_its_delete_does_not_bring_it_back(alice):
    """The interleaving behind the resurrection, made deterministic: the PATCH's view read the row,
    the DELETE committed, then the PATCH's service ran with the row it had read."""
    from dam.services.webhooks import webhook_endpoint_create, webhook_endpoint_delete, webhook_endpoint_update
    from tenants.errors import NotFound

    registered = webhook_endpoint_create(tenant=alice.tenant, url="http://127.0.0.1:9/hook", events=["job.failed"])
    read_by_the_patch = WebhookEndpoint.objects.for_tenant(alice.tenant).get(pk=registered.endpoint.pk)
    webhook_endpoint_delete(endpoint=registered.endpoint)
    with pytest.raises(NotFound):
        webhook_endpoint_update(endpoint=read_by_the_patch, description="saved again?")
    assert not WebhookEndpoint.unscoped.filter(pk=registered.endpoint.pk).exists()
    chain_is_valid(alice.tenant)
