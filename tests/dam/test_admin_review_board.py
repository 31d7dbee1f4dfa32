"""The review board in the staff UI: the queue through the review services, four-eyes visible and enforced,
roles and tenants kept apart; a refused request changes nothing."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from dam.blobs import blob_put
from dam.lifecycle import VersionStatus
from dam.models import Asset, AssetVersion, ReviewDecision
from dam.services.assets import asset_create, asset_version_create
from dam.services.metadata import collection_create
from governance.models import AuditEvent
from tenants.models import Role
from tenants.services import placement_create
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


# --- at scale: filters, pages, groups, placements, bulk decisions ------------------------------------

BULK = f"{BOARD}bulk/"


def _campaign_version(tenant, *, campaign_id, title, locale="", placements=(), requested_by=None, colour, **fields):
    version = _waiting(tenant, title=title, colour=colour, requested_by=requested_by, **fields)
    Asset.objects.for_tenant(tenant).filter(pk=version.asset_id).update(
        campaign_id=campaign_id, locale=locale, placements=list(placements)
    )
    # As a campaign's outputs carry it: the asset is filed under its campaign before its version is made.
    AssetVersion.objects.for_tenant(tenant).filter(pk=version.pk).update(campaign_id=campaign_id)
    return version


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_the_board_pages_through_everything_waiting_with_totals(alice, bob):
    versions = [_waiting(alice.tenant, title=f"item-{i:02d}", colour=(i, 2, 3)) for i in range(55)]
    client = _client(bob.user)
    first = client.get(BOARD)
    assert first.context["total"] == 55
    assert [i.version.pk for i in first.context["items"]] == [v.pk for v in versions[:24]]
    html = first.content.decode()
    assert "55 versions waiting" in html and "Showing 1\u201324 of 55 · page 1 of 3" in html
    assert 'rel="next" href="?page=2"' in html and "Select all 55 matching the filter" in html
    last = client.get(f"{BOARD}?page=3")
    assert [i.version.pk for i in last.context["items"]] == [v.pk for v in versions[48:]]
    assert "Showing 49\u201355 of 55" in last.content.decode()
    assert client.get(f"{BOARD}?page=x").status_code == 200  # a bad page number is the first page, not a 500


def test_the_board_filters_by_campaign_market_placement_job_collection_and_status(alice, bob):
    placement_create(tenant=alice.tenant, slug="pdp-square", name="PDP square", width=1024, height=1024)
    collection = collection_create(tenant=alice.tenant, slug="spring", name="Spring")
    de_square = _campaign_version(
        alice.tenant,
        campaign_id=7,
        title="Spring sale / hero / de-DE",
        locale="de-DE",
        placements=["pdp-square"],
        colour=(1, 1, 1),
        job_id=41,
    )
    fr = _campaign_version(
        alice.tenant, campaign_id=7, title="Spring sale / hero / fr-FR", locale="fr-FR", colour=(2, 2, 2)
    )
    other = _campaign_version(
        alice.tenant, campaign_id=8, title="Winter / hero / de-DE", locale="de-DE", colour=(3, 3, 3)
    )
    Asset.objects.for_tenant(alice.tenant).filter(pk=other.asset_id).update(collection=collection)
    approved = _campaign_version(
        alice.tenant,
        campaign_id=7,
        title="Spring sale / alt / de-DE",
        locale="de-DE",
        colour=(4, 4, 4),
        status=VersionStatus.APPROVED,
    )
    client = _client(bob.user)

    def shown(query: str) -> list[int]:
        response = client.get(f"{BOARD}?{query}")
        assert response.status_code == 200
        return [i.version.pk for i in response.context["items"]]

    page = client.get(BOARD)
    html = page.content.decode()
    # Campaigns are labelled by their outputs' title prefix; each card names its placements.
    assert '<option value="7">Spring sale</option>' in html and '<option value="8">Winter</option>' in html
    assert "data-placement>PDP square</span>" in html
    assert "Campaign: Spring sale" in html and "Campaign: Winter" in html
    assert shown("campaign=7") == [de_square.pk, fr.pk]
    assert shown("locale=de-DE") == [other.pk, de_square.pk]  # grouped by campaign, newest campaign first
    assert shown("locale=de-DE&group=none") == [de_square.pk, other.pk]
    assert shown("campaign=7&placement=pdp-square") == [de_square.pk]
    assert shown("job=41") == [de_square.pk]
    assert shown("collection=spring") == [other.pk]
    assert shown("status=approved") == [approved.pk]
    assert shown("campaign=nope&job=1e9&status=weird&group=x") == shown("")  # bad values are ignored, not a 500
    assert "Nothing matches" in client.get(f"{BOARD}?campaign=99").content.decode()


def test_bulk_approve_on_the_board_skips_the_reviewers_own_requests_and_says_why(alice, bob):
    alices = [_waiting(alice.tenant, title=f"alice-{i}", requested_by=alice.user, colour=(i, 9, 9)) for i in range(3)]
    bobs = _waiting(alice.tenant, title="bobs-own", requested_by=bob.user, colour=(7, 7, 7))
    client = _client(bob.user)
    response = client.post(
        BULK, {"action": "approve", "version_ids": [v.pk for v in [*alices, bobs]], "locale": ""}, follow=True
    )
    assert response.status_code == 200
    said = _messages(response)
    assert said[0] == "Approved 3 versions. Skipped 1 version, listed below."
    assert said[1] == "You requested it, so another reviewer must approve it (1): bobs-own v1."
    assert not any("four_eyes" in m or "wrong_status" in m for m in said)  # product words, not API codes
    assert [_state(v)[0] for v in alices] == [VersionStatus.APPROVED] * 3
    assert _state(bobs)[0] == VersionStatus.NEEDS_REVIEW


def test_bulk_reject_needs_one_comment_and_applies_it_to_all(alice, bob):
    versions = [_waiting(alice.tenant, title=f"r-{i}", requested_by=alice.user, colour=(i, 1, 1)) for i in range(2)]
    client = _client(bob.user)
    refused = client.post(BULK, {"action": "reject", "version_ids": [v.pk for v in versions]}, follow=True)
    assert _messages(refused) == ["Write a comment saying why: it goes with every rejection. Nothing was changed."]
    assert [_state(v)[0] for v in versions] == [VersionStatus.NEEDS_REVIEW] * 2
    response = client.post(
        BULK, {"action": "reject", "version_ids": [v.pk for v in versions], "comment": "logo cropped"}, follow=True
    )
    assert _messages(response) == ["Rejected 2 versions."]
    assert set(ReviewDecision.objects.for_tenant(alice.tenant).values_list("comment", flat=True)) == {"logo cropped"}


def test_bulk_on_everything_matching_the_filter_decides_the_campaigns_market(alice, bob):
    de = [
        _campaign_version(alice.tenant, campaign_id=7, title=f"Sale / c{i} / de-DE", locale="de-DE", colour=(i, 5, 5))
        for i in range(3)
    ]
    fr = _campaign_version(alice.tenant, campaign_id=7, title="Sale / c1 / fr-FR", locale="fr-FR", colour=(9, 5, 5))
    response = _client(bob.user).post(
        BULK, {"action": "approve", "scope": "matching", "campaign": "7", "locale": "de-DE"}, follow=True
    )
    assert _messages(response) == ["Approved 3 versions."]
    assert response.redirect_chain[-1][0] == f"{BOARD}?campaign=7&locale=de-DE"
    assert [_state(v)[0] for v in de] == [VersionStatus.APPROVED] * 3
    assert _state(fr)[0] == VersionStatus.NEEDS_REVIEW


def test_bulk_publish_from_the_approved_view_and_what_was_not_approved_is_listed(alice, bob):
    approved = _waiting(alice.tenant, title="ready", status=VersionStatus.APPROVED, colour=(1, 2, 1))
    waiting = _waiting(alice.tenant, title="not-yet", colour=(2, 1, 2))
    client = _client(bob.user)
    assert "Publish selected" in client.get(f"{BOARD}?status=approved").content.decode()
    response = client.post(
        BULK, {"action": "publish", "status": "approved", "version_ids": [approved.pk, waiting.pk]}, follow=True
    )
    assert _messages(response) == [
        "Published 1 version. Skipped 1 version, listed below.",
        "Not in a state for this decision (already decided, or not approved yet) (1): not-yet v1 (needs review).",
    ]
    assert _state(approved)[0] == VersionStatus.PUBLISHED


def test_a_viewer_cannot_decide_in_bulk_and_another_tenant_changes_nothing(alice, charlie):
    version = _waiting(alice.tenant, requested_by=alice.user, title="theirs")
    viewer = _client(make_user("vera", tenant=alice.tenant, role=Role.VIEWER))
    assert viewer.post(BULK, {"action": "approve", "version_ids": [version.pk]}).status_code == 403
    response = _client(charlie.user).post(BULK, {"action": "approve", "version_ids": [version.pk]}, follow=True)
    assert _messages(response) == [
        "Nothing was approved. Skipped 1 version, listed below.",
        f"No longer available (1): version #{version.pk}.",
    ]
    assert _state(version) == (VersionStatus.NEEDS_REVIEW, 0, 0)
    assert _client(charlie.user).get(BULK).status_code == 405


def test_the_boards_queries_do_not_grow_with_the_cards_on_a_page(alice, bob):
    placement_create(tenant=alice.tenant, slug="pdp-square", name="PDP square", width=1024, height=1024)
    client = _client(bob.user)

    def queries_for_a_page() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(BOARD).status_code == 200
        return len(captured)

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            _campaign_version(
                alice.tenant,
                campaign_id=i % 3,
                title=f"C{i % 3} / hero / de-DE",
                locale="de-DE",
                placements=["pdp-square"],
                requested_by=alice.user if i % 2 else bob.user,
                colour=(i, 4, 4),
            )

    add(3, 0)
    queries_for_a_page()  # the session's first page also loads what it caches
    few = queries_for_a_page()
    add(21, 3)  # a full page of 24 cards
    assert queries_for_a_page() == few


def test_more_matching_versions_than_one_bulk_decision_takes_says_to_narrow_the_filter(alice, bob, monkeypatch):
    monkeypatch.setattr("dam.admin.review.MAX_BULK_VERSIONS", 30)
    versions = [_waiting(alice.tenant, title=f"n-{i:02d}", colour=(i, 6, 6)) for i in range(31)]
    client = _client(bob.user)
    html = client.get(BOARD).content.decode()
    assert "Select all 31 matching" not in html
    assert "To decide all 31 at once, narrow the filter to at most 30" in html
    response = client.post(BULK, {"action": "approve", "scope": "matching"}, follow=True)
    assert _messages(response) == [
        "More than 30 versions match the filter: narrow it (a campaign, a market, a placement) and decide in "
        "parts. Nothing was changed."
    ]
    assert {_state(v)[0] for v in versions} == {VersionStatus.NEEDS_REVIEW}
