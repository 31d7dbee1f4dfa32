"""The campaign pages of the staff UI: list, form, grid, its actions, compare markets; tenants and roles."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from dam.lifecycle import VersionStatus
from dam.models import Asset, AssetVersion, Export, ReviewDecision
from dam.renditions.presets import placement_spec_key
from generation.lifecycle import JobState
from generation.models import Campaign, CampaignCell, CampaignVersion, Job
from generation.services.campaigns import campaign_create, campaign_run
from governance.models import AuditEvent
from tenants.models import Role
from tenants.services import placement_create
from tests.factories import add_rendition, make_asset
from tests.support.actors import make_persona
from tests.support.generate_page import signed_in

pytestmark = pytest.mark.django_db

LIST = "/admin/generation/campaign/"
ADD = "/admin/generation/campaign/add/"


def page(campaign_id: int, suffix: str = "") -> str:
    return f"/admin/generation/campaign/{campaign_id}/{suffix}"


@pytest.fixture
def placements(alice):
    placement_create(tenant=alice.tenant, slug="square", name="Square", width=1024, height=1024, output_format="png")
    placement_create(tenant=alice.tenant, slug="banner", name="Banner", width=1536, height=1024, output_format="jpeg")
    return ["square", "banner"]


@pytest.fixture
def campaign(alice, placements) -> Campaign:
    return campaign_create(
        tenant=alice.tenant,
        name="Summer sale",
        created_by=alice.user,
        brief="Tents for the summer",
        markets=[{"locale": "en-GB", "copy": "Summer sale"}, {"locale": "ja", "copy": "夏のセール"}],
        placements=placements,
        creatives=[{"key": "dawn", "name": "Tent at dawn", "prompt": "A green tent on a ridge at dawn"}],
        quality="low",
    )


def form_data(**overrides) -> dict:
    data = {
        "name": "Autumn boots",
        "brief": "Boots for wet trails",
        "collection": "",
        "quality": "low",
        "market_locale": ["de", "fr", ""],
        "market_copy": ["Neu", "Nouveau", ""],
        "market_alt_text": ["Ein Stiefel", "", ""],
        "placements": ["square", "banner"],
        "creative_key": ["rock", "mud"],
        "creative_name": ["On rock", "In mud"],
        "creative_prompt": ["A boot on wet rock", "A boot in mud"],
    }
    data.update(overrides)
    return data


def _approve_waiting(tenant, cell_locale: str) -> list[int]:
    """Gives the cells of one market a version waiting for review, as a finished job would."""
    ids = []
    cells = CampaignCell.objects.for_tenant(tenant).filter(locale=cell_locale)
    Job.objects.for_tenant(tenant).filter(pk__in=cells.values("last_job")).update(state=JobState.SUCCEEDED)
    for cell in cells:
        asset = make_asset(tenant)
        Asset.objects.for_tenant(tenant).filter(pk=asset.pk).update(campaign_id=cell.campaign_id, locale=cell_locale)
        CampaignCell.objects.for_tenant(tenant).filter(pk=cell.pk).update(
            asset=asset, current_version=asset.current_version
        )
        assert asset.current_version.status == VersionStatus.NEEDS_REVIEW
        ids.append(asset.current_version.pk)
    return ids


def test_nav_list_and_campaign_pages_render(alice, campaign):
    client = signed_in(alice.user)
    listing = client.get(LIST)
    assert listing.status_code == 200
    html = listing.content.decode()
    assert 'href="/admin/generation/campaign/"' in html  # the nav entry
    times = "\N{MULTIPLICATION SIGN}"
    assert "Summer sale" in html and f"2 markets {times} 2 placements {times} 1 creative" in html
    assert "4 planned" in html
    detail = client.get(page(campaign.pk)).content.decode()
    assert detail.count('class="ui-grid-item" data-status="planned"') == 4
    assert 'id="run-all"' in detail and 'id="export-campaign"' in detail
    assert "hx-get" not in detail  # nothing generating: no polling
    assert client.get(page(campaign.pk, "compare/") + "?placement=banner").status_code == 200
    assert client.get(page(campaign.pk, "edit/")).status_code == 200
    assert "a change" in client.get(page(campaign.pk, "edit/")).content.decode().lower()


def test_the_form_creates_through_the_service_and_an_edit_is_a_new_version(alice, placements):
    client = signed_in(alice.user)
    assert client.get(ADD).status_code == 200
    response = client.post(ADD, form_data())
    campaign = Campaign.objects.for_tenant(alice.tenant).get(name="Autumn boots")
    assert response.status_code == 302 and response["Location"] == page(campaign.pk)
    version = CampaignVersion.objects.for_tenant(alice.tenant).get(campaign=campaign)
    assert [m["locale"] for m in version.markets] == ["de", "fr"]
    assert version.markets[0]["alt_text"] == "Ein Stiefel"
    assert [c["key"] for c in version.creatives] == ["rock", "mud"]
    audit_events = AuditEvent.objects.for_tenant(alice.tenant)
    assert audit_events.filter(action="campaign.created", target_id=str(campaign.pk)).exists()

    edited = client.post(page(campaign.pk, "edit/"), form_data(placements=["square"]), follow=True)
    assert "Saved as version 2" in edited.content.decode()
    campaign.refresh_from_db()
    assert campaign.version == 2
    assert CampaignVersion.objects.for_tenant(alice.tenant).filter(campaign=campaign).count() == 2


def test_form_errors_are_named_by_field_and_nothing_is_saved(alice, placements):
    response = signed_in(alice.user).post(ADD, form_data(creative_key=["Bad Key!", "mud"]))
    assert response.status_code == 400
    html = response.content.decode()
    assert "The campaign was not saved" in html and "Creatives:" in html
    assert not Campaign.objects.for_tenant(alice.tenant).exists()
    empty = signed_in(alice.user).post(ADD, form_data(name=""))
    assert empty.status_code == 400 and "Name:" in empty.content.decode()


def test_run_buttons_submit_jobs_and_say_how_many(alice, campaign):
    client = signed_in(alice.user)
    row = client.post(page(campaign.pk, "run/"), {"scope": "row", "locale": "ja"}, follow=True)
    assert "Submitted 1 job for 2 cells of market ja." in row.content.decode()
    assert set(CampaignCell.objects.for_tenant(alice.tenant).values_list("locale", flat=True)) == {"ja"}
    # The row is generating: the grid region polls itself.
    grid = client.get(page(campaign.pk, "grid/")).content.decode()
    assert 'hx-trigger="every 2s"' in grid and "Generating" in grid
    again = client.post(page(campaign.pk, "run/"), {"scope": "row", "locale": "ja"}, follow=True)
    assert "No job submitted for market ja" in again.content.decode()
    cell = {"scope": "cell", "creative": "dawn", "locale": "en-GB", "placement": "banner"}
    one = client.post(page(campaign.pk, "run/"), cell, follow=True).content.decode()
    assert "Submitted 1 job for 1 cell of cell dawn / en-GB / banner." in one
    column = client.post(page(campaign.pk, "run/"), {"scope": "column", "placement": "square"}, follow=True)
    assert "Submitted 1 job for 1 cell of placement square." in column.content.decode()
    assert Job.objects.for_tenant(alice.tenant).count() == 3


def test_approve_a_row_in_one_action(alice, bob, campaign):
    campaign_run(campaign=campaign, scope="all", requested_by=alice.user)
    ids = _approve_waiting(alice.tenant, "ja")
    response = signed_in(bob.user).post(page(campaign.pk, "review/"), {"scope": "row", "locale": "ja"}, follow=True)
    assert "Market ja: Approved 2 versions." in response.content.decode()
    assert ReviewDecision.objects.for_tenant(alice.tenant).filter(version_id__in=ids).count() == 2
    # Nothing else waits in the row: said in words, nothing decided.
    again = signed_in(bob.user).post(page(campaign.pk, "review/"), {"scope": "row", "locale": "ja"}, follow=True)
    assert "Nothing in market ja is waiting" in again.content.decode()


def test_export_creates_an_export_of_the_campaign_and_lands_on_the_exports_page(alice, campaign):
    client = signed_in(alice.user)
    refused = client.post(page(campaign.pk, "export/"), follow=True)
    assert "The campaign was not exported" in refused.content.decode()  # nothing generated yet
    campaign_run(campaign=campaign, scope="all", requested_by=alice.user)
    _approve_waiting(alice.tenant, "ja")
    response = client.post(page(campaign.pk, "export/"))
    assert response.status_code == 302 and response["Location"] == "/admin/dam/export/"
    export = Export.objects.for_tenant(alice.tenant).get()
    assert export.selection.get("campaign_id") == campaign.pk


def test_another_tenants_staff_get_404_and_nothing_changes(alice, charlie, campaign):
    client = signed_in(charlie.user)
    for suffix in ("", "grid/", "compare/", "edit/"):
        assert client.get(page(campaign.pk, suffix)).status_code == 404, suffix
    for suffix, data in (("run/", {"scope": "all"}), ("review/", {"scope": "all"}), ("export/", {})):
        assert client.post(page(campaign.pk, suffix), data).status_code == 404, suffix
    assert client.post(page(campaign.pk, "edit/"), form_data()).status_code == 404
    assert "Summer sale" not in client.get(LIST).content.decode()
    assert not Job.objects.for_tenant(alice.tenant).exists()
    assert not Export.objects.for_tenant(alice.tenant).exists()
    campaign.refresh_from_db()
    assert (campaign.name, campaign.version) == ("Summer sale", 1)


def test_a_viewer_sees_the_grid_but_cannot_run_edit_or_approve(alice, campaign):
    viewer = make_persona("vera", tenant=alice.tenant, role=Role.VIEWER)
    client = signed_in(viewer.user)
    html = client.get(page(campaign.pk)).content.decode()
    assert "Summer sale" in html and 'id="run-all"' not in html and 'id="edit-campaign"' not in html
    assert client.post(page(campaign.pk, "run/"), {"scope": "all"}).status_code == 403
    assert client.post(page(campaign.pk, "review/"), {"scope": "all"}).status_code == 403
    assert client.get(ADD).status_code == 403
    assert client.post(page(campaign.pk, "edit/"), form_data()).status_code == 403
    assert not Job.objects.for_tenant(alice.tenant).exists()


def test_an_8_by_8_by_3_grid_renders_every_cell_with_sticky_headers_in_constant_queries(alice):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    slugs = [f"place-{i}" for i in range(8)]
    for index, slug in enumerate(slugs):
        placement_create(tenant=alice.tenant, slug=slug, width=1024 + 64 * index, height=1024, output_format="png")
    markets = [
        {"locale": locale, "copy": f"Sale {locale}"} for locale in ("de", "fr", "it", "es", "nl", "pl", "ja", "ko")
    ]
    creatives = [{"key": key, "name": key.title(), "prompt": f"A tent, {key}"} for key in ("dawn", "lake", "snow")]
    small = campaign_create(
        tenant=alice.tenant, name="Small", markets=markets[:1], placements=slugs[:1], creatives=creatives[:1]
    )
    big = campaign_create(tenant=alice.tenant, name="Big", markets=markets, placements=slugs, creatives=creatives)
    client = signed_in(alice.user)
    client.get(LIST)  # the session's first request reads the login and tenant once
    counts = []
    for campaign in (small, big):
        with CaptureQueriesContext(connection) as queries:
            html = client.get(page(campaign.pk)).content.decode()
        counts.append(len(queries))
    assert html.count('class="ui-grid-item" data-status="planned"') == 8 * 8 * 3
    assert html.count('class="ui-grid-market"') == 8 and html.count('class="ui-grid-placement"') == 8
    assert counts[0] == counts[1], counts


def _cell_form(action: str, locale: str = "ja", placement: str = "square", **extra) -> dict:
    return {"action": action, "creative": "dawn", "locale": locale, "placement": placement, **extra}


def test_a_cell_is_rejected_with_a_comment_and_an_approved_one_published(alice, bob, campaign):
    campaign_run(campaign=campaign, scope="all", requested_by=alice.user)
    waiting = _approve_waiting(alice.tenant, "ja")
    client = signed_in(bob.user)
    html = client.get(page(campaign.pk)).content.decode()
    # The comment box comes before its button: the reject button follows the comment in focus order.
    box = html.index(f'id="reject-{waiting[0]}"')
    assert box < html.index('class="ui-button ui-button-small ui-button-danger"', box)
    assert f'<label for="reject-{waiting[0]}">' in html and "required" in html[box : box + 200]

    # A rejection without a comment is refused in words, nothing changed.
    empty = client.post(page(campaign.pk, "cell/"), _cell_form("reject", comment="  "), follow=True)
    assert "was not changed: a rejection needs a comment saying why" in empty.content.decode()
    assert not ReviewDecision.objects.for_tenant(alice.tenant).exists()

    done = client.post(page(campaign.pk, "cell/"), _cell_form("reject", comment="The tent is cut off"), follow=True)
    assert "Rejected version 1 of cell dawn / ja / square" in done.content.decode()
    decision = ReviewDecision.objects.for_tenant(alice.tenant).get()
    assert (decision.action, decision.comment, decision.decided_by) == ("reject", "The tent is cut off", bob.user)
    assert AuditEvent.objects.for_tenant(alice.tenant).filter(target_id=str(decision.version_id)).exists()
    grid = client.get(page(campaign.pk, "grid/")).content.decode()
    assert 'data-status="rejected" data-creative="dawn" data-placement="square"' in grid
    alices = signed_in(alice.user).get(page(campaign.pk, "grid/")).content.decode()
    assert "Re-run Tent at dawn for ja in Square" in alices  # a rejected cell runs again (alice may run, bob reviews)

    # Publishing needs an approved version: a waiting one is refused in words, nothing changed.
    early = client.post(page(campaign.pk, "cell/"), _cell_form("publish", placement="banner"), follow=True)
    words = "was not changed: only a version approved can be published; its status is needs review."
    assert words in early.content.decode()
    client.post(page(campaign.pk, "review/"), {"scope": "row", "locale": "ja"})
    grid = client.get(page(campaign.pk, "grid/")).content.decode()
    assert 'aria-label="Publish Tent at dawn for ja in Banner"' in grid
    published = client.post(page(campaign.pk, "cell/"), _cell_form("publish", placement="banner"), follow=True)
    assert "Published version 1 of cell dawn / ja / banner." in published.content.decode()
    banner = CampaignCell.objects.for_tenant(alice.tenant).get(locale="ja", placement="banner")
    assert AssetVersion.objects.for_tenant(alice.tenant).get(pk=banner.current_version_id).status == "published"


def test_cell_decisions_need_the_review_scope_and_the_tenant(alice, charlie, campaign):
    campaign_run(campaign=campaign, scope="all", requested_by=alice.user)
    version_id = _approve_waiting(alice.tenant, "ja")[0]
    viewer = make_persona("vera", tenant=alice.tenant, role=Role.VIEWER)
    html = signed_in(viewer.user).get(page(campaign.pk)).content.decode()
    assert "ui-cell-reject" not in html
    form = _cell_form("reject", comment="no")
    assert signed_in(viewer.user).post(page(campaign.pk, "cell/"), form).status_code == 403
    assert signed_in(charlie.user).post(page(campaign.pk, "cell/"), form).status_code == 404
    assert not ReviewDecision.objects.for_tenant(alice.tenant).exists()
    assert AssetVersion.objects.for_tenant(alice.tenant).get(pk=version_id).status == VersionStatus.NEEDS_REVIEW


def test_thumbnails_show_the_placements_own_crop_in_constant_queries(alice, charlie, campaign):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    campaign_run(campaign=campaign, scope="all", requested_by=alice.user)
    client = signed_in(alice.user)
    client.get(LIST)
    counts = []
    for locale in ("ja", "en-GB"):
        for version_id in _approve_waiting(alice.tenant, locale):
            version = AssetVersion.objects.for_tenant(alice.tenant).get(pk=version_id)
            cell = CampaignCell.objects.for_tenant(alice.tenant).get(current_version=version)
            add_rendition(version, placement_spec_key(cell.placement), width=40, height=20, image_format="png")
        with CaptureQueriesContext(connection) as queries:
            html = client.get(page(campaign.pk)).content.decode()
        counts.append(len(queries))
    assert counts[0] == counts[1], counts  # two versioned cells or four: the same queries
    urls = re.findall(rf'src="(/admin/generation/campaign/{campaign.pk}/rendition/\d+/thumbnail/)\?w=320"', html)
    assert len(urls) == 4
    response = client.get(urls[0] + "?w=320")
    assert response.status_code == 200 and response["Content-Type"] == "image/webp"
    assert "private" in response["Cache-Control"]
    image = Image.open(io.BytesIO(response.content))
    assert image.size == (40, 20)  # the 2:1 crop of the rendition, not the original's 4:3 framing
    assert client.get(urls[0], HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    assert signed_in(charlie.user).get(urls[0]).status_code == 404
    assert client.get(page(campaign.pk, "rendition/999999/thumbnail/")).status_code == 404


def test_the_list_reads_a_page_of_campaigns_in_constant_queries_with_their_counts_and_spend(alice, placements):
    """One campaign or twelve (run, with spend in the ledger): the same number of queries, and each row's figures
    are its own campaign's."""
    from decimal import Decimal

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from governance.models import LedgerEntry

    now = timezone.now()

    def make(index: int) -> Campaign:
        campaign = campaign_create(
            tenant=alice.tenant,
            name=f"Campaign {index:02d}",
            markets=[{"locale": "de", "copy": "Sale"}, {"locale": "fr", "copy": "Soldes"}][: 1 + index % 2],
            placements=placements,
            creatives=[{"key": "dawn", "name": "Dawn", "prompt": "A tent at dawn"}],
        )
        campaign_run(campaign=campaign, requested_by=alice.user)
        job = Job.objects.for_tenant(alice.tenant).filter(campaign=campaign).first()
        LedgerEntry.objects.for_tenant(alice.tenant).create(
            tenant=alice.tenant,
            kind=LedgerEntry.Kind.ADJUSTMENT,
            job_id=job.pk,
            amount_usd=Decimal(index) / 100,
            occurred_at=now,
            day=now.date(),
            period=now.date().replace(day=1),
        )
        return campaign

    client = signed_in(alice.user)
    make(1)
    client.get(LIST)
    counts = []
    with CaptureQueriesContext(connection) as queries:
        client.get(LIST)
    counts.append(len(queries))
    for index in range(2, 13):
        make(index)
    with CaptureQueriesContext(connection) as queries:
        html = client.get(LIST).content.decode()
    counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert html.count("<tr") - 1 == 12
    # Campaign 07: one market (7 % 2 == 1 -> two markets; 8 -> one), its own spend.
    row = re.search(r"Campaign 07.*?</tr>", html, re.S).group(0)
    assert "2 markets" in row and "$0.07" in row, row
    row = re.search(r"Campaign 08.*?</tr>", html, re.S).group(0)
    assert "1 market " in row and "$0.08" in row, row


def test_add_rows_keeps_what_was_typed_offers_more_rows_and_saves_nothing(alice, placements):
    """Twelve markets in one form: "Add 4 market rows" re-renders with the typed rows and four more blank ones."""
    client = signed_in(alice.user)
    locales = ["de", "fr", "it", "es", "nl", "pl", "ja", "ko"]
    data = form_data(
        market_locale=locales, market_copy=[f"Sale {x}" for x in locales], market_alt_text=[""] * 8, more="markets"
    )
    response = client.post(ADD, data)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('name="market_locale"') == 8 + 4
    assert 'value="Sale ko"' in html and 'value="Autumn boots"' in html
    assert not Campaign.objects.for_tenant(alice.tenant).exists()
    more = [*locales, "sv", "da", "fi", "nb"]
    data.update(market_locale=more, market_copy=[f"Sale {x}" for x in more], market_alt_text=[""] * 12)
    del data["more"]
    assert client.post(ADD, data).status_code == 302
    campaign = Campaign.objects.for_tenant(alice.tenant).get()
    assert [
        m["locale"] for m in CampaignVersion.objects.for_tenant(alice.tenant).get(campaign=campaign).markets
    ] == more
    # A creative row too, up to the limit the service sets.
    creative = client.post(ADD, form_data(more="creatives")).content.decode()
    assert creative.count('name="creative_key"') == 2 + 1  # the two typed, one more
    assert 'value="rock"' in creative and 'value="mud"' in creative


def test_the_grid_shows_each_versions_checks_and_polls_until_they_are_done(alice, campaign):
    """A version whose copy is still being read back keeps the grid polling (nothing else generates); once
    checked, its cell shows the copy verdict and the brand score, read from the version row (no checks query),
    and the API's grid carries the same overview."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dam.models import ChecksState

    campaign_run(campaign=campaign, scope="all", requested_by=alice.user)
    ids = _approve_waiting(alice.tenant, "ja") + _approve_waiting(alice.tenant, "en-GB")
    checked = AssetVersion.objects.for_tenant(alice.tenant).filter(pk=ids[0])
    checked.update(checks_state=ChecksState.PENDING)
    client = signed_in(alice.user)
    grid = client.get(page(campaign.pk, "grid/")).content.decode()
    assert 'data-generating="0"' in grid and 'data-checking="1"' in grid
    assert 'hx-trigger="every 2s"' in grid and grid.count('data-checks="pending"') == 1
    assert "1 checking copy…" in grid  # the grid's head counts them

    copy = {"verdict": "near", "cer": 0.09, "read": "夏のセー"}
    checked.update(
        checks_state=ChecksState.DONE,
        brand_checks_passed=2,
        brand_checks_run=3,
        checks_summary={"copy": copy, "brand_score": {"passed": 2, "run": 3}, "checks": []},
    )
    with CaptureQueriesContext(connection) as queries:
        grid = client.get(page(campaign.pk, "grid/")).content.decode()
    assert "hx-get" not in grid and 'data-checking="0"' in grid  # nothing left to wait for: no polling
    assert grid.count('data-checks-copy="near"') == 1 and 'data-brand-score="2/3"' in grid
    assert "Read back: “夏のセー” · character error rate 0.09" in grid
    assert not [q for q in queries.captured_queries if '"dam_versioncheck"' in q["sql"]]
    # Compare markets puts the copy read back beside each market's copy.
    version = AssetVersion.objects.for_tenant(alice.tenant).get(pk=ids[0])
    placement = CampaignCell.objects.for_tenant(alice.tenant).get(current_version=version).placement
    compare = client.get(page(campaign.pk, "compare/") + f"?placement={placement}").content.decode()
    assert compare.count('data-checks-copy="near"') == 1 and "夏のセール" in compare

    cells = [
        cell
        for row in alice.client().get(f"/api/v1/campaigns/{campaign.pk}/grid").json()["rows"]
        for cell in row["cells"]
    ]
    by_version = {cell["version"]: cell["checks"] for cell in cells}
    assert by_version[ids[0]] == {"state": "done", "copy": copy, "brand_score": {"passed": 2, "run": 3}, "checks": []}
    assert by_version[ids[1]]["state"] == "none" and by_version[ids[1]]["brand_score"] is None
