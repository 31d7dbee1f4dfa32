"""Human review: the queue, four-eyes, explicit approval over newer versions, decisions recording who, when, why."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from dam.lifecycle import VersionStatus
from dam.models import AssetVersion, ReviewDecision
from tenants.models import Scope
from tests.factories import make_api_key, make_version, png_bytes
from tests.support.errors import error_codes

pytestmark = pytest.mark.django_db


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def reviewer(tenant_a) -> APIClient:
    return _client(make_api_key(tenant_a, Scope.JOBS_READ, Scope.REVIEWS_WRITE, name="reviewer").token)


def _version(tenant, *, asset=None, requested_by=None, requested_by_key=None, colour=(9, 9, 9), **fields):
    """A generated-style version as outputs_persist writes it: the requester recorded on the version."""
    return make_version(
        tenant,
        data=png_bytes(colour=colour),
        asset=asset,
        created_by=requested_by,
        created_by_key=requested_by_key,
        **fields,
    )


def _state(version) -> tuple[str, int]:
    version.refresh_from_db()
    return version.status, ReviewDecision.objects.for_tenant(version.tenant_id).count()


def _url(version, action: str) -> str:
    return f"/api/v1/assets/{version.asset_id}/versions/{version.number}/{action}"


def test_the_queue_lists_waiting_versions_oldest_first_with_verdicts(alice, charlie, reviewer):
    verdict = {"stage": "output", "decision": "flag", "reasons": ["violence severity 2 below the output threshold 4"]}
    older = _version(alice.tenant, safety_verdicts=[verdict], brand_policy_version=3, safety_config_version=2)
    newer = _version(alice.tenant, colour=(1, 1, 1))
    _version(alice.tenant, colour=(2, 2, 2), status=VersionStatus.APPROVED)
    _version(alice.tenant, colour=(3, 3, 3), status=VersionStatus.BLOCKED)
    _version(charlie.tenant)
    items = reviewer.get("/api/v1/reviews").json()["results"]
    assert [item["id"] for item in items] == [older.pk, newer.pk]
    assert items[0]["safety_verdicts"] == [verdict]
    assert (items[0]["brand_policy_version"], items[0]["safety_config_version"]) == (3, 2)
    assert items[0]["url"]


def test_four_eyes_the_requesting_key_may_not_approve_and_nothing_changes(alice, tenant_a):
    requester = make_api_key(tenant_a, Scope.JOBS_WRITE, Scope.REVIEWS_WRITE, name="requester")
    version = _version(tenant_a, requested_by_key=requester.api_key)
    before = _state(version)
    response = _client(requester.token).post(_url(version, "approve"), {"comment": "mine"}, format="json")
    assert response.status_code == 403 and "four_eyes" in error_codes(response)
    assert _state(version) == before == (VersionStatus.NEEDS_REVIEW, 0)


def test_four_eyes_the_requesting_person_may_not_approve_through_a_session_or_a_key_they_issued(alice, tenant_a):
    version = _version(tenant_a, requested_by=alice.user)
    session = APIClient()
    session.force_login(alice.user)
    own_key = make_api_key(tenant_a, Scope.REVIEWS_WRITE, name="alice's", created_by=alice.user).token
    before = _state(version)
    assert session.post(_url(version, "approve"), format="json").status_code == 403
    assert _client(own_key).post(_url(version, "approve"), format="json").status_code == 403
    assert _state(version) == before


def test_another_reviewer_approves_and_the_decision_records_who_when_and_why(alice, bob, tenant_a):
    version = _version(tenant_a, requested_by=alice.user)
    session = APIClient()
    session.force_login(bob.user)
    response = session.post(_url(version, "approve"), {"comment": "On brand"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "approved"
    decision = ReviewDecision.objects.for_tenant(tenant_a).get()
    assert (decision.action, decision.from_status, decision.to_status) == ("approve", "needs_review", "approved")
    assert (decision.decided_by, decision.actor_label, decision.comment) == (bob.user, "user:bob", "On brand")
    assert decision.created_at is not None
    history = alice.client().get(_url(version, "reviews")).json()["results"]
    assert [(h["action"], h["decided_by"], h["comment"]) for h in history] == [("approve", "user:bob", "On brand")]


def test_a_rejection_needs_a_comment(tenant_a, reviewer):
    version = _version(tenant_a)
    assert reviewer.post(_url(version, "reject"), {}, format="json").status_code == 400
    assert reviewer.post(_url(version, "reject"), {"comment": "  "}, format="json").status_code == 400
    assert _state(version) == (VersionStatus.NEEDS_REVIEW, 0)
    response = reviewer.post(_url(version, "reject"), {"comment": "logo cropped"}, format="json")
    assert response.status_code == 200 and _state(version) == (VersionStatus.REJECTED, 1)


def test_approving_an_older_version_while_a_newer_one_waits_must_be_explicit(tenant_a, reviewer):
    old = _version(tenant_a)
    _version(tenant_a, asset=old.asset, colour=(5, 5, 5))
    implicit = reviewer.post(_url(old, "approve"), {}, format="json")
    assert implicit.status_code == 409 and "newer_version_waiting" in error_codes(implicit)
    assert _state(old) == (VersionStatus.NEEDS_REVIEW, 0)
    explicit = reviewer.post(_url(old, "approve"), {"approve_over_newer": True}, format="json")
    assert explicit.status_code == 200 and explicit.json()["decision"]["approved_over_newer"] is True
    assert _state(old) == (VersionStatus.APPROVED, 1)


def test_publish_and_unpublish_follow_the_life_cycle(tenant_a, reviewer):
    version = _version(tenant_a)
    assert reviewer.post(_url(version, "publish"), format="json").status_code == 409  # not approved yet
    for action, status in (("approve", "approved"), ("publish", "published"), ("unpublish", "approved")):
        response = reviewer.post(_url(version, action), format="json")
        assert response.status_code == 200 and response.json()["status"] == status
    assert reviewer.post(_url(version, "unpublish"), format="json").status_code == 409
    actions = ReviewDecision.objects.for_tenant(tenant_a).order_by("id").values_list("action", flat=True)
    assert list(actions) == ["approve", "publish", "unpublish"]


@pytest.mark.parametrize("action", ["approve", "reject", "publish"])
def test_a_blocked_version_cannot_be_reviewed_back_into_service(tenant_a, reviewer, action):
    version = _version(tenant_a, status=VersionStatus.BLOCKED)
    response = reviewer.post(_url(version, action), {"comment": "x", "approve_over_newer": True}, format="json")
    assert response.status_code == 409
    assert _state(version) == (VersionStatus.BLOCKED, 0)


def test_keys_without_reviews_write_cannot_review_and_nothing_changes(alice, tenant_a):
    version = _version(tenant_a)
    shop = _client(make_api_key(tenant_a, Scope.ASSETS_READ, name="web-shop").token)
    editor = _client(make_api_key(tenant_a, Scope.JOBS_READ, Scope.JOBS_WRITE, name="editor").token)
    for client in (shop, editor):
        assert client.get("/api/v1/reviews").status_code == 403
        for action in ("approve", "reject", "publish"):
            assert client.post(_url(version, action), {"comment": "x"}, format="json").status_code == 403
    assert _state(version) == (VersionStatus.NEEDS_REVIEW, 0)


def test_another_tenants_version_is_not_found(alice, charlie):
    version = _version(alice.tenant)
    assert charlie.client().post(_url(version, "approve"), format="json").status_code == 404
    assert charlie.client().get(_url(version, "reviews")).status_code == 404
    assert AssetVersion.objects.for_tenant(alice.tenant).get(pk=version.pk).status == VersionStatus.NEEDS_REVIEW
