"""The generate page and the job page in the staff UI: roles, the size plan, submission through
the job service, and tenant isolation of jobs. No worker runs here (see tests/e2e for the live flow)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from dam.services.metadata import collection_create
from generation.models import Job
from tenants.models import Role
from tenants.services import brand_policy_update, membership_set
from tests.factories import make_asset, make_user
from tests.support.generate_page import GENERATE, PLAN, form, generate_placements, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def placements(alice):
    generate_placements(alice.tenant)


def test_a_viewer_cannot_reach_generate_and_nothing_is_created(alice, placements):
    client = signed_in(make_user("vera", tenant=alice.tenant, role=Role.VIEWER))
    assert client.get(GENERATE).status_code == 403
    assert client.post(GENERATE, form()).status_code == 403
    assert client.post(PLAN, form()).status_code == 403
    assert not Job.objects.for_tenant(alice.tenant).exists()
    assert b"/admin/generation/job/generate/" not in client.get("/admin/").content  # no link either


def test_a_reviewer_cannot_generate_either(alice, bob, placements):
    assert signed_in(bob.user).post(GENERATE, form()).status_code == 403
    assert not Job.objects.for_tenant(alice.tenant).exists()


def test_the_form_shows_placements_and_the_policy_defaults(alice, placements):
    brand_policy_update(tenant=alice.tenant, default_quality="medium", default_locales=["ja", "ko"])
    page = signed_in(alice.user).get(GENERATE).content.decode()
    assert 'value="leaderboard"' in page and 'value="mobile-story"' in page
    assert 'value="medium" checked' in page
    assert page.count('name="locale_code"') == 3  # ja, ko, and the row template


def test_the_plan_panel_shows_groups_calls_and_tokens_before_submitting(alice, placements):
    response = signed_in(alice.user).post(PLAN, form())
    page = response.content.decode()
    assert response.status_code == 200
    # Two aspects (leaderboard 3:1 clamp, story 9:16) x two locales = four provider calls.
    assert "provider calls" in page and ">4<" in page
    assert "leaderboard" in page and "mobile-story" in page
    assert 'data-estimated-tokens="' in page
    assert not Job.objects.for_tenant(alice.tenant).exists()


def test_the_plan_panel_names_the_rule_a_request_breaks(alice, placements):
    page = signed_in(alice.user).post(PLAN, form(routing_mode="explicit", size="1000x1000")).content.decode()
    assert "size" in page and "not a legal size" in page


def test_submitting_creates_the_job_through_the_service_and_opens_its_page(alice, placements):
    collection_create(tenant=alice.tenant, slug="spring-26")  # references are never created on the fly
    client = signed_in(alice.user)
    response = client.post(GENERATE, form(collection="spring-26", tags="footwear, outdoor"))
    job = Job.objects.for_tenant(alice.tenant).get()
    assert response.status_code == 302 and response["Location"] == f"/admin/generation/job/{job.pk}/change/"
    assert job.requested_by == alice.user
    assert job.locales == {"ja": "新登場", "de": "Neu"}
    assert [p["slug"] for p in job.placements] == ["leaderboard", "mobile-story"]
    assert job.generations.count() == 4 and job.tags == ["footwear", "outdoor"]
    page = client.get(response["Location"]).content.decode()
    assert "Queued" in page and 'hx-trigger="every 1s"' in page
    # The same form submitted twice (a double click) is the same job.
    assert client.post(GENERATE, form(collection="spring-26", tags="footwear, outdoor")).status_code == 302
    assert Job.objects.for_tenant(alice.tenant).count() == 1


def test_a_refused_request_keeps_the_input_and_names_the_field(alice, placements):
    brand_policy_update(tenant=alice.tenant, banned_terms=["cheap"])
    response = signed_in(alice.user).post(GENERATE, form(prompt="A cheap shoe"))
    page = response.content.decode()
    assert response.status_code == 400
    assert "bans the term" in page and "A cheap shoe" in page and 'value="新登場"' in page
    assert not Job.objects.for_tenant(alice.tenant).exists()


def test_an_edit_names_the_source_version_and_becomes_an_edit_job(alice):
    asset = make_asset(alice.tenant, title="Photo")
    client = signed_in(alice.user)
    page = client.get(GENERATE, {"asset": asset.pk, "version": 1}).content.decode()
    assert "Edit Photo v1" in page and 'name="mask"' in page
    client.post(GENERATE, form(placements=[], locale_code=[], locale_copy=[], source_asset=asset.pk, source_version=1))
    job = Job.objects.for_tenant(alice.tenant).get()
    assert job.kind == Job.Kind.EDIT and job.source_version.asset_id == asset.pk


def test_jobs_of_another_tenant_are_invisible(alice, charlie, placements):
    signed_in(alice.user).post(GENERATE, form())
    job = Job.objects.for_tenant(alice.tenant).get()
    client = signed_in(charlie.user)
    assert "A trail shoe" not in client.get("/admin/generation/job/").content.decode()
    for url in (f"/admin/generation/job/{job.pk}/change/", f"/admin/generation/job/{job.pk}/progress/"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/admin/generation/job/{job.pk}/cancel/").status_code == 404
    job.refresh_from_db()
    assert job.state == "queued" and not job.cancel_requested


def test_a_viewer_reads_jobs_but_cannot_cancel_them(alice, placements):
    signed_in(alice.user).post(GENERATE, form())
    job = Job.objects.for_tenant(alice.tenant).get()
    viewer = make_user("val")
    membership_set(tenant=alice.tenant, user=viewer, role=Role.VIEWER)
    client = signed_in(viewer)
    page = client.get(f"/admin/generation/job/{job.pk}/change/").content.decode()
    assert "A trail shoe" in page and "Cancel job" not in page
    assert client.post(f"/admin/generation/job/{job.pk}/cancel/").status_code == 403
    job.refresh_from_db()
    assert job.state == "queued"


def test_the_plan_panel_prices_the_plan_and_each_language_costs_the_same(alice, placements):
    client = signed_in(alice.user)

    def estimated_usd(**overrides) -> Decimal:
        page = client.post(PLAN, form(**overrides)).content.decode()
        return Decimal(re.search(r'data-estimated-usd="([0-9.]+)"', page).group(1))

    one = estimated_usd(locale_code=["ja"], locale_copy=["新登場"])
    two = estimated_usd()
    assert one > 0
    assert two == 2 * one
    assert estimated_usd(quality="high") > two  # more output tokens per image


def test_an_edit_takes_an_optional_png_mask_and_refuses_anything_else(alice):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.factories import png_bytes

    asset = make_asset(alice.tenant, title="Photo")
    client = signed_in(alice.user)
    edit = form(placements=[], locale_code=[], locale_copy=[], source_asset=asset.pk, source_version=1)
    refused = client.post(GENERATE, {**edit, "mask": SimpleUploadedFile("mask.jpg", b"\xff\xd8\xff not a png")})
    assert refused.status_code == 400 and "must be a PNG" in refused.content.decode()
    assert not Job.objects.for_tenant(alice.tenant).exists()
    mask = SimpleUploadedFile("mask.png", png_bytes(64, 48), content_type="image/png")
    assert client.post(GENERATE, {**edit, "idempotency_key": "form-2", "mask": mask}).status_code == 302
    job = Job.objects.for_tenant(alice.tenant).get()
    assert job.kind == Job.Kind.EDIT and job.mask_key
