"""Four-eyes compares persons: every version records who asked for it (user, API key, and the person
behind the key through key-minted-by-key chains), and no requester approves their own version, through
the API or the review board. A refusal changes nothing: status, decisions and audit trail stay as they were.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from dam.lifecycle import VersionStatus
from dam.models import AssetVersion
from governance.models import AuditEvent
from tenants.models import Scope
from tests.factories import make_api_key, png_bytes
from tests.support.clients import bearer_client, mint_key, session_client
from tests.support.review import approve, refused_by_four_eyes, review_state

pytestmark = pytest.mark.django_db

BOARD = "/admin/governance/review/"


def _upload(client: APIClient, colour=(30, 60, 90)) -> AssetVersion:
    upload = png_bytes(colour=colour)
    response = client.post(
        "/api/v1/assets", {"file": SimpleUploadedFile("photo.png", upload), "title": "photo"}, format="multipart"
    )
    assert response.status_code == 201, response.content
    return AssetVersion.unscoped.get(asset_id=response.json()["id"], number=1)


@pytest.fixture
def chain(alice):
    """alice mints K1 in her session; K1 mints K2: K2's person is alice, through the chain."""
    k1_token, k1 = mint_key(
        session_client(alice.user), "k1", Scope.ADMIN, Scope.ASSETS_WRITE, Scope.ASSETS_READ, Scope.REVIEWS_WRITE
    )
    k2_token, k2 = mint_key(bearer_client(k1_token), "k2", Scope.ASSETS_WRITE, Scope.ASSETS_READ, Scope.REVIEWS_WRITE)
    return {"k1": (k1_token, k1), "k2": (k2_token, k2)}


def test_an_upload_through_a_key_cannot_be_approved_by_the_same_key_and_nothing_changes(tenant_a):
    key = make_api_key(tenant_a, Scope.ASSETS_WRITE, Scope.REVIEWS_WRITE, name="pipeline")
    client = bearer_client(key.token)
    version = _upload(client)
    before = review_state(version)
    assert before[0] == VersionStatus.NEEDS_REVIEW
    assert refused_by_four_eyes(approve(client, version))
    assert review_state(version) == before
    assert version.created_by_key_id == key.api_key.pk


def test_a_key_minted_by_a_key_records_the_issuing_key_and_the_person_at_the_root(alice, chain):
    _, k1 = chain["k1"]
    _, k2 = chain["k2"]
    assert (k1.created_by_id, k1.created_by_key_id) == (alice.user.pk, None)
    assert (k2.created_by_id, k2.created_by_key_id) == (alice.user.pk, k1.pk)
    event = AuditEvent.objects.for_tenant(alice.tenant).get(action="api_key.created", target_id=str(k2.pk))
    assert event.actor_kind == "api_key" and event.actor_id == str(k1.pk)


def test_an_upload_records_the_user_the_key_and_the_person_behind_the_key(alice, chain):
    _, k2 = chain["k2"]
    version = _upload(bearer_client(chain["k2"][0]))
    assert (version.created_by_id, version.created_by_key_id, version.created_by_person_id) == (
        None,
        k2.pk,
        alice.user.pk,
    )
    requester = {"user": None, "api_key": k2.pk, "person": alice.user.pk}
    for action in ("asset.uploaded", "asset.version_created"):
        event = AuditEvent.objects.for_tenant(alice.tenant).filter(action=action).latest("seq")
        assert event.payload["requester"] == requester, action
    # An upload in a session: the person is the user.
    own = _upload(session_client(alice.user), colour=(1, 2, 3))
    assert (own.created_by_id, own.created_by_key_id, own.created_by_person_id) == (alice.user.pk, None, alice.user.pk)


def test_the_person_at_the_root_of_the_chain_may_not_approve_an_upload_made_with_its_keys(alice, chain, bob):
    alices_other_key = make_api_key(alice.tenant, Scope.REVIEWS_WRITE, name="alice-review", created_by=alice.user)
    version = _upload(bearer_client(chain["k2"][0]))
    before = review_state(version)
    for client in (session_client(alice.user), bearer_client(chain["k1"][0]), bearer_client(alices_other_key.token)):
        assert refused_by_four_eyes(approve(client, version))
        assert review_state(version) == before
    response = approve(session_client(bob.user), version)
    assert response.status_code == 200, response.content
    assert review_state(version)[:2] == (VersionStatus.APPROVED, 1)


def test_a_key_minted_by_a_key_without_a_person_is_the_same_requester_as_its_issuer(tenant_a):
    root = make_api_key(
        tenant_a, Scope.ADMIN, Scope.ASSETS_WRITE, Scope.REVIEWS_WRITE, name="provisioned"
    )  # no person behind it
    child_token, child = mint_key(bearer_client(root.token), "child", Scope.ASSETS_WRITE, Scope.REVIEWS_WRITE)
    sibling_token, _ = mint_key(bearer_client(root.token), "sibling", Scope.REVIEWS_WRITE)
    assert (child.created_by_id, child.created_by_key_id) == (None, root.api_key.pk)
    version = _upload(bearer_client(child_token))
    before = review_state(version)
    for token in (child_token, root.token, sibling_token):
        assert refused_by_four_eyes(approve(bearer_client(token), version))
    assert review_state(version) == before
    other = make_api_key(tenant_a, Scope.REVIEWS_WRITE, name="another pipeline")
    assert approve(bearer_client(other.token), version).status_code == 200


def test_the_review_board_refuses_the_person_behind_the_key_and_lets_another_reviewer_decide(alice, chain, bob):
    version = _upload(bearer_client(chain["k2"][0]))
    before = review_state(version)
    client = Client()
    client.force_login(alice.user)
    html = client.get(BOARD).content.decode()
    assert "You requested this: another reviewer must approve it." in html
    response = client.post(f"{BOARD}{version.pk}/decide/", {"action": "approve"})
    assert response.status_code == 403
    assert review_state(version) == before
    reviewer = Client()
    reviewer.force_login(bob.user)
    assert reviewer.post(f"{BOARD}{version.pk}/decide/", {"action": "approve"}).status_code == 302
    assert review_state(version)[:2] == (VersionStatus.APPROVED, 1)


def test_the_review_queue_and_board_name_the_person_behind_the_key(alice, chain, bob):
    k2_token, k2 = chain["k2"]
    version = _upload(bearer_client(k2_token))
    listed = {item["id"]: item for item in session_client(bob.user).get("/api/v1/reviews").json()["results"]}
    assert listed[version.pk]["requested_by"] == f"api-key:{k2.prefix}"
    assert listed[version.pk]["requested_by_person"] == alice.user.get_username()
    board = session_client(bob.user).get(BOARD)
    assert f"API key {k2.prefix}… for {alice.user.get_username()}" in board.content.decode()
