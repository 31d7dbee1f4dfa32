"""Campaigns without a worker: versioning, validation naming the field, run plans, idempotent runs, grid, spend."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from generation.models import Campaign, CampaignCell, CampaignVersion, Job, JobGeneration, ProviderResponse
from generation.selectors.campaigns import campaign_grid, campaign_spend
from generation.services.campaigns import campaign_create, campaign_run, campaign_update
from governance.models import AuditEvent
from governance.services.ledger import ledger_charge_response
from tenants.services import placement_create
from tests.support.errors import names_field

pytestmark = pytest.mark.django_db

MARKETS = [
    {"locale": "en-GB", "copy": "Summer sale", "alt_text": "A tent at dawn"},
    {"locale": "ja", "copy": "夏のセール"},
    {"locale": "de", "copy": "Sommerschlussverkauf"},
]
CREATIVES = [
    {"key": "dawn", "name": "Tent at dawn", "prompt": "A green tent on a ridge at dawn"},
    {"key": "lake", "name": "Lakeside", "prompt": "A canoe on a calm lake"},
]


@pytest.fixture
def placements(alice, charlie):
    for actor in (alice, charlie):
        placement_create(tenant=actor.tenant, slug="square", width=1024, height=1024, output_format="png")
        placement_create(tenant=actor.tenant, slug="banner", width=1536, height=1024, output_format="jpeg")
        placement_create(tenant=actor.tenant, slug="story", width=1024, height=1536, output_format="jpeg")
    return ["square", "banner", "story"]


def body(**overrides):
    return {
        "name": "Summer sale",
        "brief": "Tents for the summer",
        "markets": MARKETS,
        "placements": ["square", "banner", "story"],
        "creatives": CREATIVES,
        "quality": "low",
        **overrides,
    }


@pytest.fixture
def campaign(alice, placements) -> Campaign:
    values = body()
    return campaign_create(tenant=alice.tenant, created_by=alice.user, **values)


def test_create_through_the_api_makes_version_one(alice, placements):
    response = alice.client().post("/api/v1/campaigns", body(), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["version"] == 1 and data["current"]["number"] == 1
    assert [m["locale"] for m in data["current"]["markets"]] == ["en-GB", "ja", "de"]
    assert data["current"]["creatives"][0] == {**CREATIVES[0], "source_version_id": None}
    assert AuditEvent.objects.for_tenant(alice.tenant).filter(action="campaign.created").count() == 1
    listed = alice.client().get("/api/v1/campaigns").json()["results"]
    assert [c["id"] for c in listed] == [data["id"]] and listed[0]["current"]["placements"] == placements


def test_a_change_is_a_new_version_and_the_old_one_stays(alice, campaign):
    client = alice.client()
    response = client.patch(
        f"/api/v1/campaigns/{campaign.pk}", {"markets": MARKETS[:2], "name": "Summer sale 2027"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 2 and response.json()["name"] == "Summer sale 2027"
    versions = client.get(f"/api/v1/campaigns/{campaign.pk}/versions").json()["results"]
    assert [v["number"] for v in versions] == [2, 1]
    assert len(versions[0]["markets"]) == 2 and len(versions[1]["markets"]) == 3
    # A change of the name only is no new version.
    assert client.patch(f"/api/v1/campaigns/{campaign.pk}", {"name": "x"}, format="json").json()["version"] == 2
    assert CampaignVersion.objects.for_tenant(alice.tenant).filter(campaign=campaign).count() == 2


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"markets": []}, "markets"),
        ({"markets": [{"locale": "not a tag!", "copy": "x"}]}, "markets"),
        ({"markets": [{"locale": "ja", "copy": "a"}, {"locale": "ja", "copy": "b"}]}, "markets"),
        ({"placements": ["nowhere"]}, "placements"),
        ({"creatives": [{"key": "Bad Key", "prompt": "x"}]}, "creatives"),
        ({"creatives": [{"key": "a", "prompt": "x"}, {"key": "a", "prompt": "y"}]}, "creatives"),
        ({"creatives": [{"key": "a", "prompt": "x", "source_version_id": 999999}]}, "creatives"),
        ({"quality": "ultra"}, "quality"),
        ({"routing": {"mode": "warp"}}, "routing"),
        ({"collection": "no-such"}, "collection"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(alice, placements, override, field):
    response = alice.client().post("/api/v1/campaigns", body(**override), format="json")
    assert 400 <= response.status_code < 500, response.content
    assert names_field(response, field), response.json()
    assert not Campaign.objects.for_tenant(alice.tenant).exists()


def test_a_viewer_reads_but_cannot_create_or_run(alice, campaign):
    from tenants.models import Role
    from tests.support.actors import make_persona

    viewer = make_persona("vera", tenant=alice.tenant, role=Role.VIEWER).client()
    assert viewer.get(f"/api/v1/campaigns/{campaign.pk}/grid").status_code == 200
    assert viewer.post("/api/v1/campaigns", body(), format="json").status_code == 403
    assert viewer.post(f"/api/v1/campaigns/{campaign.pk}/run", {}, format="json").status_code == 403
    assert not Job.objects.for_tenant(alice.tenant).exists()


def test_dry_run_plans_one_job_per_creative_with_an_estimate_and_submits_nothing(alice, campaign):
    response = alice.client().post(f"/api/v1/campaigns/{campaign.pk}/run", {"dry_run": True}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert [j["creative"] for j in data["jobs"]] == ["dawn", "lake"]
    assert data["jobs"][0]["locales"] == ["en-GB", "ja", "de"]
    assert data["jobs"][0]["placements"] == ["square", "banner", "story"]
    # Three aspects (square, landscape, portrait) x three markets.
    assert data["jobs"][0]["provider_calls"] == 9
    assert Decimal(data["estimated_usd"]) == sum(Decimal(j["estimated_usd"]) for j in data["jobs"]) > 0
    assert not Job.objects.for_tenant(alice.tenant).exists()


def test_run_all_submits_jobs_that_carry_the_campaign_and_a_second_click_pays_nothing(alice, campaign):
    client = alice.client()
    first = client.post(f"/api/v1/campaigns/{campaign.pk}/run", {"scope": "all"}, format="json")
    assert first.status_code == 202, first.content
    jobs = Job.objects.for_tenant(alice.tenant).order_by("id")
    assert [(j.campaign_id, j.campaign_version, j.campaign_creative) for j in jobs] == [
        (campaign.pk, 1, "dawn"),
        (campaign.pk, 1, "lake"),
    ]
    assert jobs[0].locales == {m["locale"]: m["copy"] for m in MARKETS}
    assert CampaignCell.objects.for_tenant(alice.tenant).count() == 18
    grid = client.get(f"/api/v1/campaigns/{campaign.pk}/grid").json()
    assert grid["counts"] == {"generating": 18}
    # Nothing is missing now: the second click submits nothing and skips every cell, saying why.
    second = client.post(f"/api/v1/campaigns/{campaign.pk}/run", {"scope": "all"}, format="json")
    assert second.status_code == 200 and second.json()["jobs"] == []
    assert {c["status"] for c in second.json()["skipped"]} == {"generating"} and len(second.json()["skipped"]) == 18
    assert jobs.count() == 2


def test_a_concurrent_identical_run_replays_the_same_jobs(alice, campaign):
    """Two clicks that both planned before either recorded its cells share the Idempotency-Keys."""
    from generation.services.campaigns import campaign_run_plan
    from generation.services.submission import job_submit

    plan = campaign_run_plan(campaign=campaign)
    first = campaign_run(campaign=campaign, requested_by=alice.user)
    replay = job_submit(tenant=alice.tenant, body=plan.jobs[0].body, idempotency_key=plan.jobs[0].idempotency_key)
    assert not replay.created and replay.job == first.submitted[0][1]
    assert Job.objects.for_tenant(alice.tenant).count() == 2


def test_row_and_column_runs_cover_only_their_cells(alice, campaign):
    client = alice.client()
    row = client.post(f"/api/v1/campaigns/{campaign.pk}/run", {"scope": "row", "locale": "ja"}, format="json")
    assert row.status_code == 202, row.content
    assert [(j["locales"], j["placements"]) for j in row.json()["jobs"]] == [
        (["ja"], ["square", "banner", "story"])
    ] * 2
    column = client.post(
        f"/api/v1/campaigns/{campaign.pk}/run", {"scope": "column", "placement": "story"}, format="json"
    )
    # The ja x story cells are already generating: only the other two markets run.
    assert [(j["locales"], j["placements"]) for j in column.json()["jobs"]] == [(["en-GB", "de"], ["story"])] * 2
    assert len(column.json()["skipped"]) == 2
    cells = client.post(
        f"/api/v1/campaigns/{campaign.pk}/run",
        {"scope": "cells", "cells": [{"creative": "lake", "locale": "de", "placement": "square"}]},
        format="json",
    )
    assert [(j["creative"], j["locales"], j["placements"]) for j in cells.json()["jobs"]] == [
        ("lake", ["de"], ["square"])
    ]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"scope": "row", "locale": "fr"}, "locale"),
        ({"scope": "column", "placement": "nowhere"}, "placement"),
        ({"scope": "cells", "cells": [{"creative": "dawn", "locale": "ja", "placement": "nowhere"}]}, "cells"),
        ({"scope": "diagonal"}, "scope"),
        ({"scope": "all", "speed": "fast"}, "speed"),
    ],
)
def test_bad_run_input_names_the_field_and_submits_nothing(alice, campaign, payload, field):
    response = alice.client().post(f"/api/v1/campaigns/{campaign.pk}/run", payload, format="json")
    assert response.status_code == 400 and names_field(response, field), response.content
    assert not Job.objects.for_tenant(alice.tenant).exists()


def test_an_archived_campaign_does_not_run(alice, campaign):
    campaign_update(campaign=campaign, archived=True)
    response = alice.client().post(f"/api/v1/campaigns/{campaign.pk}/run", {}, format="json")
    assert response.status_code == 409 and names_field(response, "archived")


def test_running_jobs_keep_their_version(alice, campaign):
    campaign_run(campaign=campaign, scope="row", locale="ja")
    campaign_update(campaign=campaign, creatives=[{"key": "dawn", "prompt": "A red tent at dusk"}])
    assert set(Job.objects.for_tenant(alice.tenant).values_list("campaign_version", "prompt")) == {
        (1, "A green tent on a ridge at dawn"),
        (1, "A canoe on a calm lake"),
    }
    campaign.refresh_from_db()
    plan = campaign_run(campaign=campaign, scope="row", locale="de")
    assert [(job.campaign_version, job.prompt) for _, job, _ in plan.submitted] == [(2, "A red tent at dusk")]


def test_grid_statuses_follow_the_last_job_and_the_current_version(alice, campaign):
    from dam.lifecycle import VersionStatus
    from generation.lifecycle import JobState
    from tests.factories import make_asset, set_status

    result = campaign_run(
        campaign=campaign, scope="cells", cells=[{"creative": "dawn", "locale": "ja", "placement": "square"}]
    )
    job = result.submitted[0][1]
    Job.objects.for_tenant(alice.tenant).filter(pk=job.pk).update(state=JobState.FAILED)
    grid = campaign_grid(campaign=campaign)
    statuses = {(c["creative"], c["locale"], c["placement"]): c["status"] for r in grid["rows"] for c in r["cells"]}
    assert statuses[("dawn", "ja", "square")] == "failed"
    assert grid["counts"] == {"failed": 1, "planned": 17}
    # A version makes the cell's status the version's.
    asset = make_asset(alice.tenant)
    CampaignCell.objects.for_tenant(alice.tenant).filter(creative="dawn", locale="ja").update(
        current_version=asset.current_version, asset=asset
    )
    set_status(asset.current_version, VersionStatus.REJECTED)
    cell = next(c for r in campaign_grid(campaign=campaign)["rows"] for c in r["cells"] if c["version"])
    assert (cell["status"], cell["asset"], cell["url"] is not None) == ("rejected", asset.pk, True)
    assert cell["moderation"] == "pass"
    # Failed and rejected cells run again.
    again = campaign_run(
        campaign=campaign, scope="cells", cells=[{"creative": "dawn", "locale": "ja", "placement": "square"}]
    )
    assert len(again.submitted) == 1 and again.submitted[0][1] != job


def test_spend_per_market_and_creative_from_the_ledger(alice, campaign):
    result = campaign_run(campaign=campaign, scope="row", locale="ja")
    other = campaign_run(campaign=campaign, scope="row", locale="de")
    amounts = []
    for index, (_, job, _) in enumerate([*result.submitted, *other.submitted]):
        unit = JobGeneration.objects.for_tenant(alice.tenant).filter(job=job).order_by("id").first()
        ProviderResponse.objects.for_tenant(alice.tenant).create(
            tenant=alice.tenant, job=job, generation=unit, provider_request_id=f"req-{index}", deployment="d"
        )
        entry = ledger_charge_response(
            tenant=alice.tenant,
            job_id=job.pk,
            provider_request_id=f"req-{index}",
            usage={"output_tokens": 1000 * (index + 1)},
            occurred_at=timezone.now(),
        )
        amounts.append((job.campaign_creative, unit.locale, entry.amount_usd if entry else Decimal(0)))
    spend = campaign_spend(campaign=campaign)
    assert spend.total_usd == sum(a for _, _, a in amounts) > 0
    assert spend.by_market == {locale: sum(a for _, m, a in amounts if m == locale) for locale in ("ja", "de")}
    assert spend.by_creative == {c: sum(a for k, _, a in amounts if k == c) for c in ("dawn", "lake")}
    data = alice.client().get(f"/api/v1/campaigns/{campaign.pk}/spend").json()
    assert Decimal(data["total_usd"]) == spend.total_usd and data["jobs"] == 4
    assert {row["locale"] for row in data["by_market"]} == {"ja", "de"}
    grid = alice.client().get(f"/api/v1/campaigns/{campaign.pk}/grid").json()
    assert sum(Decimal(c["cost_usd"]) for r in grid["rows"] for c in r["cells"]) == spend.total_usd


def test_the_grid_reads_in_a_constant_number_of_queries(alice, campaign, placements):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import make_asset

    campaign_run(campaign=campaign, scope="row", locale="ja")
    with CaptureQueriesContext(connection) as few:
        campaign_grid(campaign=campaign)
    campaign_run(campaign=campaign, scope="all")
    for cell in CampaignCell.objects.for_tenant(alice.tenant).filter(locale="de"):
        asset = make_asset(alice.tenant)
        CampaignCell.objects.for_tenant(alice.tenant).filter(pk=cell.pk).update(
            asset=asset, current_version=asset.current_version
        )
    with CaptureQueriesContext(connection) as many:
        grid = campaign_grid(campaign=campaign)
    assert sum(len(r["cells"]) for r in grid["rows"]) == 18
    assert len(many.captured_queries) <= len(few.captured_queries) + 1  # + the renditions, once there are versions


def test_a_refused_creative_names_the_campaign_field_and_later_ones_are_listed_not_lost(alice, placements):
    from tenants.services import brand_policy_update

    brand_policy_update(tenant=alice.tenant, banned_terms=["canoe"])
    lake_first = campaign_create(tenant=alice.tenant, **body(name="lake first", creatives=CREATIVES[::-1]))
    client = alice.client()
    for payload in ({"dry_run": True}, {}):
        response = client.post(f"/api/v1/campaigns/{lake_first.pk}/run", payload, format="json")
        assert response.status_code == 422 and names_field(response, "creatives"), response.content
        assert "lake" in response.json()["errors"][0]["message"]
    assert not Job.objects.for_tenant(alice.tenant).exists()
    # The first creative's job is submitted; the refused one is reported with the reason, the run goes on.
    dawn_first = campaign_create(tenant=alice.tenant, **body(name="dawn first"))
    response = client.post(f"/api/v1/campaigns/{dawn_first.pk}/run", {}, format="json")
    assert response.status_code == 202, response.content
    data = response.json()
    assert [j["creative"] for j in data["jobs"]] == ["dawn"]
    assert [(r["creative"], r["field"], r["code"]) for r in data["refused"]] == [("lake", "creatives", "banned_term")]
    assert Job.objects.for_tenant(alice.tenant).count() == 1


def test_a_market_without_copy_generates_its_cells_without_in_image_text(alice, placements):
    from dam.blobs import blob_put
    from dam.models import Asset, AssetVersion
    from generation.services.outputs import outputs_persist
    from tests.factories import png_bytes

    markets = [{"locale": "en-GB", "copy": "Summer sale"}, {"locale": "fr", "copy": "", "alt_text": "Une tente"}]
    campaign = campaign_create(
        tenant=alice.tenant,
        created_by=alice.user,
        **body(markets=markets, creatives=CREATIVES[:1], placements=["square"]),
    )
    result = campaign_run(campaign=campaign, scope="all", requested_by=alice.user)
    jobs = {planned.locales: job for planned, job, _ in result.submitted}
    assert set(jobs) == {("en-GB",), ("fr",)}
    # The market without copy is a job without locales (no text asked for), its unit labelled with the market.
    assert jobs[("fr",)].locales == {} and jobs[("en-GB",)].locales == {"en-GB": "Summer sale"}
    unit = JobGeneration.objects.for_tenant(alice.tenant).get(job=jobs[("fr",)])
    texted = JobGeneration.objects.for_tenant(alice.tenant).get(job=jobs[("en-GB",)])
    assert (unit.locale, unit.locale_copy) == ("fr", "")
    assert "Text in the image" in texted.compiled_prompt
    assert "text in the image" not in unit.compiled_prompt.lower() and "French" not in unit.compiled_prompt

    # Its output is filed under the market: the fr cell's asset and version.
    blob = blob_put(tenant_id=alice.tenant.pk, kind="originals", data=png_bytes(1024, 1024), image_format="png")
    output = {"key": blob.key, "sha256": blob.sha256, "size": blob.size, "width": 1024, "height": 1024}
    response = ProviderResponse.objects.for_tenant(alice.tenant).create(
        tenant=alice.tenant,
        job=jobs[("fr",)],
        generation=unit,
        provider_request_id="req-fr",
        deployment="d",
        outputs=[{**output, "format": "png", "safety": {"stage": "output", "decision": "pass", "analysed": True}}],
    )
    outputs_persist(job=jobs[("fr",)], unit=unit, response=response, renditions=[[]])
    Job.objects.for_tenant(alice.tenant).filter(pk=jobs[("fr",)].pk).update(state="succeeded")
    cells = {(c["locale"], c["placement"]): c for r in campaign_grid(campaign=campaign)["rows"] for c in r["cells"]}
    assert cells[("en-GB", "square")]["status"] == "generating"
    fr = cells[("fr", "square")]
    assert fr["status"] in ("needs_review", "approved") and fr["version"], fr
    asset = Asset.objects.for_tenant(alice.tenant).get(pk=fr["asset"])
    assert (asset.locale, asset.title) == ("fr", "Summer sale / Tent at dawn / fr")
    version = AssetVersion.objects.for_tenant(alice.tenant).get(pk=fr["version"])
    assert (version.locale, version.alt_text) == ("fr", {"fr": "Une tente"})
    # A second click replays: nothing is submitted twice.
    again = campaign_run(campaign=campaign, scope="all", requested_by=alice.user)
    assert not again.submitted or all(not created for _, _, created in again.submitted)


def test_the_api_takes_a_market_with_empty_copy(alice, placements):
    markets = [{"locale": "en-GB", "copy": "Summer sale"}, {"locale": "fr", "copy": ""}]
    response = alice.client().post("/api/v1/campaigns", body(markets=markets), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["current"]["markets"][1] == {"locale": "fr", "copy": "", "alt_text": "", "storefront": ""}
