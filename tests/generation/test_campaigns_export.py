"""A campaign's hand-off through the API: POST /api/v1/campaigns/{id}/export is an export of the campaign's assets,
laid out `<market>/<placement>/<creative>.<ext>`, with the market, placement and status filters."""

from __future__ import annotations

import io
import zipfile

import pytest

from dam.lifecycle import VersionStatus
from dam.models import Asset, Export
from dam.services.exports import export_build
from generation.services.campaigns import campaign_create
from governance.models import AuditEvent
from tenants.models import Scope
from tests.factories import make_version, set_status
from tests.support.actors import key_holder
from tests.support.errors import names_field
from tests.support.exports import CAMPAIGN_ID, PLACEMENTS, campaign_assets

pytestmark = pytest.mark.django_db

MARKETS = ("de-DE", "ja-JP")
CREATIVES = ("sneaker", "boot")


@pytest.fixture
def campaign(alice):
    """A campaign whose outputs are the export helper's campaign-like assets (one per market x creative)."""
    versions = campaign_assets(alice.tenant, markets=MARKETS, creatives=CREATIVES)
    campaign = campaign_create(
        tenant=alice.tenant,
        name="Summer",
        markets=[{"locale": market, "copy": ""} for market in MARKETS],
        placements=list(PLACEMENTS),
        creatives=[{"key": creative, "prompt": f"A {creative}"} for creative in CREATIVES],
    )
    Asset.objects.for_tenant(alice.tenant).filter(campaign_id=CAMPAIGN_ID).update(campaign_id=campaign.pk)
    campaign.versions_made = versions
    return campaign


def _built_zip(client, export_id: int) -> zipfile.ZipFile:
    assert export_build(export_id=export_id) == "done"
    response = client.get(f"/api/v1/exports/{export_id}/download")
    assert response.status_code == 200
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_the_campaign_export_is_laid_out_by_market_placement_and_creative(alice, campaign):
    # Another campaign's asset (campaign 7) stays out.
    other = make_version(alice.tenant, title="Other / tent / fr-FR", locale="fr-FR")
    Asset.objects.for_tenant(alice.tenant).filter(pk=other.asset_id).update(campaign_id=CAMPAIGN_ID, locale="fr-FR")
    api = alice.client()
    created = api.post(f"/api/v1/campaigns/{campaign.pk}/export", format="json")
    assert created.status_code == 202, created.content
    body = created.json()
    assert created["Location"] == f"/api/v1/exports/{body['id']}"
    # The same export as POST /api/v1/exports answers, and reads back the same.
    assert body == api.get(f"/api/v1/exports/{body['id']}").json()
    assert body["selection"] == {"campaign_id": campaign.pk, "include_originals": True}
    assert body["versions"] == 4 and other.pk not in Export.objects.for_tenant(alice.tenant).get().version_ids

    archive = _built_zip(api, body["id"])
    expected = {
        f"{market}/{folder}/{creative}.{ext}"
        for market in MARKETS
        for creative in CREATIVES
        for folder, ext in (("original", "png"), ("pdp-square", "jpg"), ("hero-wide", "webp"))
    }
    assert set(archive.namelist()) == expected | {"manifest.csv", "manifest.json"}
    assert AuditEvent.objects.for_tenant(alice.tenant).filter(action="export.created").count() == 1


def test_market_placement_and_status_narrow_the_campaign_export(alice, campaign):
    rejected = next(v for v in campaign.versions_made if v.locale == "ja-JP")
    set_status(rejected, VersionStatus.REJECTED)
    api = alice.client()
    payload = {"market": "ja-JP", "placement": "pdp-square", "status": "approved", "include_originals": False}
    created = api.post(f"/api/v1/campaigns/{campaign.pk}/export", payload, format="json")
    assert created.status_code == 202, created.content
    assert created.json()["selection"] == {
        "campaign_id": campaign.pk,
        "locale": "ja-JP",
        "placement": "pdp-square",
        "status": "approved",
        "include_originals": False,
    }
    archive = _built_zip(api, created.json()["id"])
    kept = set(
        Asset.objects.for_tenant(alice.tenant)
        .filter(locale="ja-JP", campaign_id=campaign.pk)
        .exclude(pk=rejected.asset_id)
        .values_list("creative", flat=True)
    )
    assert len(kept) == 1
    assert set(archive.namelist()) == {f"ja-JP/pdp-square/{c}.jpg" for c in kept} | {"manifest.csv", "manifest.json"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"status": "bogus"}, "status"), ({"colour": "red"}, "colour"), ({"placement": "nowhere"}, "placement")],
)
def test_bad_export_input_names_the_field_and_exports_nothing(alice, campaign, payload, field):
    response = alice.client().post(f"/api/v1/campaigns/{campaign.pk}/export", payload, format="json")
    assert response.status_code == 400 and names_field(response, field), response.content
    assert not Export.objects.for_tenant(alice.tenant).exists()


def test_a_campaign_with_no_output_in_the_filter_is_a_400(alice, campaign):
    response = alice.client().post(f"/api/v1/campaigns/{campaign.pk}/export", {"market": "fr-FR"}, format="json")
    assert response.status_code == 400 and names_field(response, "selection"), response.content


def test_the_export_takes_assets_read_as_any_export(alice, campaign):
    reader = key_holder(alice.tenant, Scope.ASSETS_READ, name="cms")
    assert reader.client().post(f"/api/v1/campaigns/{campaign.pk}/export", format="json").status_code == 202
    jobs_only = key_holder(alice.tenant, Scope.JOBS_READ, name="jobs")
    assert jobs_only.client().post(f"/api/v1/campaigns/{campaign.pk}/export", format="json").status_code == 403
    assert Export.objects.for_tenant(alice.tenant).count() == 1
