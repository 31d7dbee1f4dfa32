"""Bulk review: one call decides many versions, each through the single-version service, four-eyes per version;
what is skipped is listed with its reason, another tenant's ids are not found, and nothing else changes."""

from __future__ import annotations

import pytest

from dam.lifecycle import VersionStatus
from dam.models import Asset, AssetVersion, ReviewDecision
from dam.services.assets import asset_create
from dam.services.review import MAX_BULK_VERSIONS, Reviewer, versions_review_bulk
from governance.models import AuditEvent
from tenants.errors import ServiceError
from tenants.models import Scope
from tests.factories import make_api_key, make_version, png_bytes
from tests.support.clients import bearer_client, session_client
from tests.support.errors import error_fields

pytestmark = pytest.mark.django_db

URL = "/api/v1/reviews/bulk"
_colour = iter(range(1, 10_000))


def _version(tenant, *, asset=None, title="hero", requested_by=None, requested_by_key=None, campaign=None, **fields):
    if asset is None:
        asset = asset_create(tenant=tenant, title=title, source="generated")
        if campaign is not None:
            # The campaign fields as a campaign's outputs carry them (set by generation when it files the asset).
            Asset.objects.for_tenant(tenant).filter(pk=asset.pk).update(**campaign)
    n = next(_colour)
    return make_version(
        tenant,
        data=png_bytes(colour=(n % 256, n // 256, 7)),
        asset=asset,
        created_by=requested_by,
        created_by_key=requested_by_key,
        **fields,
    )


def _statuses(*versions) -> list[str]:
    return [AssetVersion.objects.for_tenant(v.tenant_id).get(pk=v.pk).status for v in versions]


def _snapshot(tenant) -> list:
    return [
        sorted(AssetVersion.objects.for_tenant(tenant).values_list("id", "status")),
        ReviewDecision.objects.for_tenant(tenant).count(),
        AuditEvent.objects.for_tenant(tenant).filter(action__startswith="review.").count(),
    ]


# --- the service ---------------------------------------------------------------------------------


def test_bulk_approve_decides_each_version_and_lists_the_reviewers_own_requests(alice, bob):
    others = [_version(alice.tenant, requested_by=alice.user) for _ in range(3)]
    bobs = _version(alice.tenant, requested_by=bob.user)
    done_already = _version(alice.tenant, requested_by=alice.user, status=VersionStatus.APPROVED)
    report = versions_review_bulk(
        tenant=alice.tenant,
        action="approve",
        version_ids=[v.pk for v in [*others, bobs, done_already]] + [others[0].pk],  # a repeat counts once
        reviewer=Reviewer(user=bob.user),
        comment="on brand",
    )
    assert report.done == [v.pk for v in others]
    assert [(s.version_id, s.reason) for s in report.skipped] == [
        (bobs.pk, "four_eyes"),
        (done_already.pk, "wrong_status"),
    ]
    assert "another reviewer" in report.skipped[0].detail
    assert _statuses(*others, bobs, done_already) == ["approved"] * 3 + ["needs_review", "approved"]
    # Each decision is the single service's: a decision record and an audit event per version, plus one for the call.
    decisions = ReviewDecision.objects.for_tenant(alice.tenant).order_by("id")
    assert [(d.version_id, d.action, d.actor_label, d.comment) for d in decisions] == [
        (v.pk, "approve", "user:bob", "on brand") for v in others
    ]
    events = AuditEvent.objects.for_tenant(alice.tenant).filter(action__startswith="review.").order_by("seq")
    assert [e.action for e in events] == ["review.approve"] * 3 + ["review.bulk"]
    bulk = events.last().payload
    assert bulk["done"] == report.done and [s["reason"] for s in bulk["skipped"]] == ["four_eyes", "wrong_status"]


def test_bulk_reject_takes_one_comment_for_all_and_refuses_none(alice, bob):
    versions = [_version(alice.tenant, requested_by=alice.user) for _ in range(2)]
    reviewer = Reviewer(user=bob.user)
    with pytest.raises(ServiceError) as refused:
        versions_review_bulk(
            tenant=alice.tenant, action="reject", version_ids=[v.pk for v in versions], reviewer=reviewer
        )
    assert refused.value.field == "comment"
    assert _statuses(*versions) == ["needs_review"] * 2
    # The requester may reject their own version: four-eyes guards approval only.
    report = versions_review_bulk(
        tenant=alice.tenant,
        action="reject",
        version_ids=[v.pk for v in versions],
        reviewer=Reviewer(user=alice.user),
        comment="  logo cropped ",
    )
    assert report.done == [v.pk for v in versions] and report.skipped == []
    assert set(ReviewDecision.objects.for_tenant(alice.tenant).values_list("comment", flat=True)) == {"logo cropped"}


def test_bulk_publish_only_publishes_approved_versions(alice, bob):
    approved = [_version(alice.tenant, requested_by=alice.user, status=VersionStatus.APPROVED) for _ in range(2)]
    waiting = _version(alice.tenant, requested_by=alice.user)
    report = versions_review_bulk(
        tenant=alice.tenant,
        action="publish",
        version_ids=[*(v.pk for v in approved), waiting.pk],
        reviewer=Reviewer(user=alice.user),  # publishing is not four-eyes: the requester may publish
    )
    assert report.done == [v.pk for v in approved]
    assert [(s.version_id, s.reason) for s in report.skipped] == [(waiting.pk, "wrong_status")]
    assert _statuses(*approved, waiting) == ["published", "published", "needs_review"]


def test_of_two_waiting_versions_of_one_asset_the_older_is_skipped_not_approved_over_the_newer(alice, bob):
    older = _version(alice.tenant, requested_by=alice.user)
    newer = _version(alice.tenant, asset=older.asset, requested_by=alice.user)
    report = versions_review_bulk(
        tenant=alice.tenant, action="approve", version_ids=[newer.pk, older.pk], reviewer=Reviewer(user=bob.user)
    )
    assert report.done == [newer.pk]
    assert [(s.version_id, s.reason) for s in report.skipped] == [(older.pk, "newer_version_waiting")]
    assert _statuses(older, newer) == ["needs_review", "approved"]


def test_another_tenants_ids_are_not_found_and_stay_as_they_were(alice, bob, charlie):
    mine = _version(alice.tenant, requested_by=alice.user)
    theirs = _version(charlie.tenant, requested_by=charlie.user)
    before = _snapshot(charlie.tenant)
    report = versions_review_bulk(
        tenant=alice.tenant,
        action="approve",
        version_ids=[mine.pk, theirs.pk, 10**12],
        reviewer=Reviewer(user=bob.user),
    )
    assert report.done == [mine.pk]
    assert [(s.version_id, s.reason) for s in report.skipped] == [(theirs.pk, "not_found"), (10**12, "not_found")]
    assert _snapshot(charlie.tenant) == before


def test_more_ids_than_the_limit_is_refused_before_anything_is_decided(alice, bob):
    version = _version(alice.tenant, requested_by=alice.user)
    ids = [version.pk, *range(10**9, 10**9 + MAX_BULK_VERSIONS)]
    with pytest.raises(ServiceError) as refused:
        versions_review_bulk(tenant=alice.tenant, action="approve", version_ids=ids, reviewer=Reviewer(user=bob.user))
    assert refused.value.code == "too_many" and str(MAX_BULK_VERSIONS) in refused.value.message
    assert _statuses(version) == ["needs_review"]


# --- the API -------------------------------------------------------------------------------------


def test_the_api_approves_by_ids_as_a_reviewer_key_and_lists_the_keys_own_requests(alice, bob):
    by_alice = [_version(alice.tenant, requested_by_key=alice.api_key) for _ in range(2)]
    by_bob = _version(alice.tenant, requested_by_key=bob.api_key)
    ids = [v.pk for v in [*by_alice, by_bob]]
    response = bob.client().post(URL, {"action": "approve", "version_ids": ids, "comment": "ok"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["action"] == "approve" and body["requested"] == 3
    assert body["done"] == [v.pk for v in by_alice]
    assert [(s["version_id"], s["reason"]) for s in body["skipped"]] == [(by_bob.pk, "four_eyes")]
    assert _statuses(*by_alice, by_bob) == ["approved", "approved", "needs_review"]
    event = AuditEvent.objects.for_tenant(alice.tenant).filter(action="review.approve").first()
    assert event.request_id  # the request's origin reaches each decision's audit event


def test_a_session_of_the_requester_gets_four_eyes_skips_listed(alice, bob):
    mine = _version(alice.tenant, requested_by=alice.user)
    bobs = _version(alice.tenant, requested_by=bob.user)
    client = session_client(alice.user)
    response = client.post(URL, {"action": "approve", "version_ids": [mine.pk, bobs.pk]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["done"] == [bobs.pk]
    assert [s["reason"] for s in response.json()["skipped"]] == ["four_eyes"]
    assert _statuses(mine, bobs) == ["needs_review", "approved"]


def test_the_api_decides_a_campaigns_market_by_filter(alice, bob):
    campaign = {"campaign_id": 7, "creative": "hero"}
    de = [
        _version(alice.tenant, requested_by=alice.user, campaign={**campaign, "locale": "de-DE", "placements": [p]})
        for p in ("pdp-square", "leaderboard")
    ]
    fr = _version(alice.tenant, requested_by=alice.user, campaign={**campaign, "locale": "fr-FR"})
    other_campaign = _version(alice.tenant, requested_by=alice.user, campaign={"campaign_id": 8, "locale": "de-DE"})
    approved_de = _version(
        alice.tenant, requested_by=alice.user, status=VersionStatus.APPROVED, campaign={**campaign, "locale": "de-DE"}
    )
    client = bob.client()
    body = {"action": "approve", "filter": {"campaign_id": 7, "locale": "de-DE"}}
    response = client.post(URL, body, format="json")
    assert response.status_code == 200, response.content
    # Without a status the filter takes the versions the action applies to: the approved one is not "skipped".
    assert response.json()["done"] == [v.pk for v in de] and response.json()["skipped"] == []
    assert _statuses(*de, fr, other_campaign, approved_de) == ["approved"] * 2 + ["needs_review"] * 2 + ["approved"]
    # A column: one placement across the campaign, then publish what is approved in it.
    response = client.post(
        URL, {"action": "publish", "filter": {"campaign_id": 7, "placement": "pdp-square"}}, format="json"
    )
    assert response.json()["done"] == [de[0].pk]


def test_the_api_refuses_bad_bodies_with_400_and_changes_nothing(alice, bob):
    version = _version(alice.tenant, requested_by=alice.user)
    client = bob.client()
    before = _snapshot(alice.tenant)
    cases = {
        "action": {"action": "delete", "version_ids": [version.pk]},
        "version_ids": {"action": "approve"},
        "filter": {"action": "approve", "filter": {"campaign_id": 999}},  # matches nothing
        "comment": {"action": "reject", "version_ids": [version.pk]},
        "unknown": {"action": "approve", "version_ids": [version.pk], "approve_over_newer": True},
    }
    for field, body in cases.items():
        response = client.post(URL, body, format="json")
        assert response.status_code == 400, (field, response.content)
        if field != "unknown":
            assert field in error_fields(response) or "version_ids" in error_fields(response), (field, response.json())
    both = client.post(URL, {"action": "approve", "version_ids": [version.pk], "filter": {"job": 1}}, format="json")
    assert both.status_code == 400
    huge = client.post(URL, {"action": "approve", "version_ids": [2**70]}, format="json")
    assert huge.status_code == 400
    many = list(range(1, MAX_BULK_VERSIONS + 2))
    too_many = client.post(URL, {"action": "approve", "version_ids": many}, format="json")
    assert too_many.status_code == 400 and "version_ids" in error_fields(too_many)
    assert _snapshot(alice.tenant) == before


def test_a_filter_matching_more_than_the_limit_is_a_400(alice, bob, monkeypatch):
    monkeypatch.setattr("dam.api.review.MAX_BULK_VERSIONS", 2)
    versions = [_version(alice.tenant, requested_by=alice.user) for _ in range(3)]
    response = bob.client().post(URL, {"action": "approve", "filter": {}}, format="json")
    assert response.status_code == 400 and "filter" in error_fields(response)
    assert _statuses(*versions) == ["needs_review"] * 3


def test_a_key_without_reviews_write_is_refused_and_nothing_changes(alice):
    version = _version(alice.tenant, requested_by=alice.user)
    reader = make_api_key(alice.tenant, Scope.JOBS_READ, Scope.ASSETS_READ, name="reader")
    before = _snapshot(alice.tenant)
    response = bearer_client(reader.token).post(URL, {"action": "approve", "version_ids": [version.pk]}, format="json")
    assert response.status_code == 403
    assert _snapshot(alice.tenant) == before


def test_tenant_b_names_tenant_a_ids_they_are_not_found_and_nothing_changes(alice, charlie):
    versions = [_version(alice.tenant, requested_by=alice.user) for _ in range(2)]
    before = _snapshot(alice.tenant)
    response = charlie.client().post(URL, {"action": "approve", "version_ids": [v.pk for v in versions]}, format="json")
    assert response.status_code == 200
    assert response.json()["done"] == []
    assert {s["reason"] for s in response.json()["skipped"]} == {"not_found"}
    # A filter names only the caller's own versions: tenant A's campaign is invisible to tenant B.
    Asset.objects.for_tenant(alice.tenant).update(campaign_id=5)
    AssetVersion.objects.for_tenant(alice.tenant).update(campaign_id=5)  # (a campaign's outputs carry it on both)
    by_filter = charlie.client().post(URL, {"action": "approve", "filter": {"campaign_id": 5}}, format="json")
    assert by_filter.status_code == 400
    assert _snapshot(alice.tenant) == before
