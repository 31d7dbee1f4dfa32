"""The review board in the staff UI: the queue through the review services, four-eyes visible and enforced,
roles and tenants kept apart; a refused request changes nothing."""

from __future__ import annotations

import pytest
from django.test import Client

from dam.blobs import blob_put
from dam.lifecycle import VersionStatus
from dam.models import ReviewDecision
from dam.services.assets import asset_create, asset_version_create
from governance.models import AuditEvent
from tenants.models import Role
from tests.factories import make_user, png_bytes

pytestmark = pytest.mark.django_db

BOARD = "/admin/governance/review/"


def _waiting(tenant, *, requested_by=None, title="hero", colour=(9, 9, 9), **fields):
    asset = asset_create(tenant=tenant, title=title, source="generated")
    blob = blob_put(tenant_id=tenant.pk, kind="originals", data=png_bytes(colour=colour), image_format="png")
    return asset_version_create(
        asset=asset, blob=blob, width=64, height=48, image_format="png", created_by=requested_by, **fields
    )


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _decide(client: Client, version, action: str, **data):
    return client.post(f"{BOARD}{version.pk}/decide/", {"action": action, **data})


def _state(version) -> tuple[str, int, int]:
    version.refresh_from_db()
    tenant = version.tenant_id
    return (
        version.status,
        ReviewDecision.objects.for_tenant(tenant).count(),
        AuditEvent.objects.for_tenant(tenant).filter(action__startswith="review.").count(),
    )


def test_the_board_lists_waiting_versions_oldest_first_with_policy_and_safety_versions(alice, charlie, bob):
    verdict = {"stage": "output", "decision": "flag", "categories": {"violence": {"severity": 2, "threshold": 4}}}
    older = _waiting(
        alice.tenant, title="older-one", safety_verdicts=[verdict], brand_policy_version=3, safety_config_version=2
    )
    newer = _waiting(alice.tenant, title="newer-one", colour=(1, 1, 1))
    _waiting(alice.tenant, title="approved-one", status=VersionStatus.APPROVED)
    _waiting(charlie.tenant, title="other-tenant-one")
    page = _client(bob.user).get(BOARD)
    assert page.status_code == 200
    html = page.content.decode()
    assert html.index("older-one") < html.index("newer-one")
    assert "approved-one" not in html and "other-tenant-one" not in html
    assert f"/admin/dam/asset/version/{older.pk}/thumbnail/?w=800" in html
    assert "violence 2/4" in html and "data-policy-version>v3" in html and "data-safety-version>v2" in html
    assert [i.version.pk for i in page.context["items"]] == [older.pk, newer.pk]


def test_a_reviewer_approves_and_publishes_through_the_services(alice, bob):
    version = _waiting(alice.tenant, requested_by=alice.user)
    response = _decide(_client(bob.user), version, "approve", comment="on brand", publish="1")
    assert response.status_code == 302
    assert _state(version) == (VersionStatus.PUBLISHED, 2, 2)
    decisions = ReviewDecision.objects.for_tenant(alice.tenant).order_by("id")
    assert [(d.action, d.actor_label, d.comment) for d in decisions] == [
        ("approve", "user:bob", "on brand"),
        ("publish", "user:bob", "on brand"),
    ]


def test_a_rejection_needs_a_comment(alice, bob):
    version = _waiting(alice.tenant, requested_by=alice.user)
    client = _client(bob.user)
    _decide(client, version, "reject", comment="  ")
    assert _state(version) == (VersionStatus.NEEDS_REVIEW, 0, 0)
    _decide(client, version, "reject", comment="logo distorted")
    assert _state(version) == (VersionStatus.REJECTED, 1, 1)
    assert ReviewDecision.objects.for_tenant(alice.tenant).get().comment == "logo distorted"


def test_the_requester_sees_four_eyes_and_no_approve_button_and_a_forced_post_is_refused(alice, bob):
    version = _waiting(alice.tenant, requested_by=alice.user)
    client = _client(alice.user)
    html = client.get(BOARD).content.decode()
    assert "You requested this: another reviewer must approve it." in html
    assert "data-approve>" not in html and "data-approve-publish" not in html
    assert "data-approve>" in _client(bob.user).get(BOARD).content.decode()
    response = _decide(client, version, "approve")
    assert response.status_code == 403
    assert "four-eyes" in response.content.decode()
    assert _state(version) == (VersionStatus.NEEDS_REVIEW, 0, 0)


def test_a_viewer_can_neither_see_the_board_nor_decide_and_nothing_changes(alice):
    version = _waiting(alice.tenant, requested_by=alice.user)
    client = _client(make_user("vera", tenant=alice.tenant, role=Role.VIEWER))
    assert client.get(BOARD).status_code == 403
    assert _decide(client, version, "approve").status_code == 403
    assert _decide(client, version, "reject", comment="no").status_code == 403
    assert _state(version) == (VersionStatus.NEEDS_REVIEW, 0, 0)
    assert "/admin/governance/review/" not in client.get("/admin/").content.decode()


def test_tenant_b_sees_none_of_tenant_a_queue_and_cannot_decide_on_it(alice, charlie):
    version = _waiting(alice.tenant, requested_by=alice.user, title="secret-campaign")
    client = _client(charlie.user)
    page = client.get(BOARD)
    assert page.status_code == 200 and "secret-campaign" not in page.content.decode()
    assert page.context["total"] == 0
    assert _decide(client, version, "approve").status_code == 404
    assert _state(version) == (VersionStatus.NEEDS_REVIEW, 0, 0)
