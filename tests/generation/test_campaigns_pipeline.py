"""Campaigns end to end: API -> a real Celery worker -> the emulator over HTTP -> the cells' assets and versions."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from dam.lifecycle import VersionStatus
from dam.models import Asset, AssetVersion
from generation.models import CampaignCell, Job
from tenants.services import placement_create
from tests.factories import set_status
from tests.support.jobs import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def emulator(clean_emulator, celery_worker):
    return clean_emulator


def _grid(actor, campaign_id) -> dict:
    grid = actor.client().get(f"/api/v1/campaigns/{campaign_id}/grid").json()
    return {(c["creative"], c["locale"], c["placement"]): c for row in grid["rows"] for c in row["cells"]}


def _run(actor, campaign_id, **payload) -> dict:
    response = actor.client().post(f"/api/v1/campaigns/{campaign_id}/run", payload, format="json")
    assert response.status_code in (200, 202), response.content
    data = response.json()
    jobs = wait_for([job["job"] for job in data["jobs"]], timeout=180)
    assert {job.state for job in jobs} <= {"succeeded"}, [(j.error_code, j.error_message) for j in jobs]
    # Then the versions' copy checks (the renditions pool): the grid is compared once nothing is pending.
    deadline = time.monotonic() + 120
    pending = AssetVersion.unscoped.filter(job_id__in=[job.pk for job in jobs], checks_state="pending")
    while pending.exists() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert not pending.exists(), "checks still pending"
    return data


def test_a_campaign_runs_into_its_grid_and_a_rejected_cell_reruns_into_the_same_asset(alice, emulator):
    placement_create(tenant=alice.tenant, slug="square", width=1024, height=1024, output_format="png")
    placement_create(tenant=alice.tenant, slug="banner", width=1536, height=1024, output_format="jpeg")
    created = alice.client().post(
        "/api/v1/campaigns",
        {
            "name": "Summer sale",
            "markets": [
                {"locale": "en-GB", "copy": "Summer sale", "alt_text": "A green tent at dawn"},
                {"locale": "ja", "copy": "夏のセール"},
            ],
            "placements": ["square", "banner"],
            "creatives": [{"key": "dawn", "name": "Tent at dawn", "prompt": "A green tent at dawn"}],
            "quality": "low",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    campaign_id = created.json()["id"]

    first = _run(alice, campaign_id, scope="all")
    assert len(first["jobs"]) == 1 and emulator.image_calls() == 4  # 2 markets x 2 aspect groups
    grid = _grid(alice, campaign_id)
    assert len(grid) == 4
    for (_, locale, placement), cell in grid.items():
        assert cell["status"] in ("needs_review", "approved"), cell
        assert cell["version"] and cell["url"] and cell["placement_url"], cell
        assert cell["moderation"] in ("pass", "flag"), cell
        asset = Asset.objects.for_tenant(alice.tenant).get(pk=cell["asset"])
        market = "Summer sale / Tent at dawn / " + locale
        assert (asset.title, asset.campaign_id, asset.creative, asset.locale) == (market, campaign_id, "dawn", locale)
        assert asset.placements == [placement]
        alt_text = {"en-GB": {"en-GB": "A green tent at dawn"}, "ja": {}}[locale]
        assert AssetVersion.objects.for_tenant(alice.tenant).get(pk=cell["version"]).alt_text == alt_text

    # A reviewer rejects one cell; a re-run of its row generates that cell only, onto the same asset.
    rejected = grid[("dawn", "ja", "square")]
    set_status(AssetVersion.objects.for_tenant(alice.tenant).get(pk=rejected["version"]), VersionStatus.REJECTED)
    assert _grid(alice, campaign_id)[("dawn", "ja", "square")]["status"] == "rejected"
    rerun = _run(alice, campaign_id, scope="row", locale="ja")
    assert [(j["locales"], j["placements"]) for j in rerun["jobs"]] == [(["ja"], ["square"])]
    assert {(c["locale"], c["placement"]) for c in rerun["skipped"]} == {("ja", "banner")}
    assert emulator.image_calls() == 5
    after = _grid(alice, campaign_id)
    cell = after[("dawn", "ja", "square")]
    assert cell["asset"] == rejected["asset"] and cell["version_number"] == 2
    version = AssetVersion.objects.for_tenant(alice.tenant).get(pk=cell["version"])
    assert version.parent_id == rejected["version"]
    assert after[("dawn", "ja", "banner")] == grid[("dawn", "ja", "banner")]
    assert Asset.objects.for_tenant(alice.tenant).filter(campaign_id=campaign_id).count() == 4

    # A column with nothing missing or rejected runs nothing, and pays nothing.
    column = _run(alice, campaign_id, scope="column", placement="banner")
    assert column["jobs"] == [] and emulator.image_calls() == 5
    assert CampaignCell.objects.for_tenant(alice.tenant).filter(campaign_id=campaign_id).count() == 4

    spend = alice.client().get(f"/api/v1/campaigns/{campaign_id}/spend").json()
    by_market = {row["locale"]: Decimal(row["amount_usd"]) for row in spend["by_market"]}
    assert set(by_market) == {"en-GB", "ja"} and by_market["ja"] > by_market["en-GB"] > 0
    assert Decimal(spend["total_usd"]) == sum(by_market.values())


def test_every_generated_asset_carries_the_placements_it_is_cut_for(alice, emulator):
    placement_create(tenant=alice.tenant, slug="leaderboard", width=970, height=250, output_format="png")
    response = alice.client().post(
        "/api/v1/jobs", {"prompt": "A tent", "placements": ["leaderboard"], "quality": "low"}, format="json"
    )
    (job,) = wait_for([response.json()["id"]])
    assert job.state == "succeeded", job.error_message
    asset = Asset.objects.for_tenant(alice.tenant).get(family=f"job-{job.pk}")
    assert (asset.placements, asset.campaign_id, asset.creative) == (["leaderboard"], None, "")


def test_a_market_without_copy_fills_its_cells_through_the_worker(alice, emulator):
    placement_create(tenant=alice.tenant, slug="square", width=1024, height=1024, output_format="png")
    created = alice.client().post(
        "/api/v1/campaigns",
        {
            "name": "Quiet",
            "markets": [{"locale": "en-GB", "copy": "Summer sale"}, {"locale": "fr", "copy": ""}],
            "placements": ["square"],
            "creatives": [{"key": "dawn", "name": "Tent at dawn", "prompt": "A green tent at dawn"}],
            "quality": "low",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    campaign_id = created.json()["id"]
    run = _run(alice, campaign_id, scope="all")
    assert sorted(job["locales"] for job in run["jobs"]) == [["en-GB"], ["fr"]]
    assert emulator.image_calls() == 2
    grid = _grid(alice, campaign_id)
    for locale in ("en-GB", "fr"):
        cell = grid[("dawn", locale, "square")]
        assert cell["status"] in ("needs_review", "approved") and cell["version"], cell
        asset = Asset.objects.for_tenant(alice.tenant).get(pk=cell["asset"])
        assert (asset.locale, asset.title) == (locale, f"Quiet / Tent at dawn / {locale}")
    fr = AssetVersion.objects.for_tenant(alice.tenant).get(pk=grid[("dawn", "fr", "square")]["version"])
    assert fr.locale == "fr" and Job.objects.for_tenant(alice.tenant).get(pk=fr.job_id).locales == {}
