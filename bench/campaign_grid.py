"""A campaign's grid, as JSON (GET /api/v1/campaigns/{id}/grid) and as the staff page a person opens
(GET /admin/generation/campaign/{id}/, thumbnails and all): server time and SQL queries, constant in the cells.

    .venv/bin/python bench/campaign_grid.py            # grids of 2x2x1 and 8x8x3 cells (markets x placements x
                                                      # creatives), 25 timed requests each
    .venv/bin/python bench/campaign_grid.py --smoke    # 2x2x1 and 3x3x2, 3 requests each: the path, not a figure

A database of its own (the bench stack), local storage, no provider calls. For each size a tenant gets a campaign
(`campaign_create`) whose run submits its jobs through the job service (`campaign_run`; the worker's task is not
queued), then every cell gets an output as the worker would file it: an asset per cell (creative x market x
placement) with a version of the creative's job and its placement rendition, stored through the library's
services, and the cells pointing at it. The jobs are marked succeeded, so the cells read `needs_review`.

Baseline, from the same run: the job page's JSON (GET /api/v1/jobs/{id}) of one job with the same number of
outputs (versions with their renditions), the page a person used to see a campaign's outputs together.

The JSON is requested in this process with DRF's APIClient and an API key (`jobs:read`), the staff page with
Django's test client and a reviewer's session: the time is the request's whole server side (routing, auth,
tenant, selectors, serialisers or templates, middleware), the median of `--repeat` requests after
one warm-up; the query count is the statements of one request (the fewest of three: the API key's cached lookup
is refreshed now and then). The target: the grid's query count, JSON and page, is the same at every
size (constant in the number of cells).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as `python bench/campaign_grid.py`

from bench.figures import MISSED_TARGET, header, table, verdict  # noqa: E402
from bench.stack import Stack, run_main  # noqa: E402

LOCALES = ("en-GB", "de-DE", "fr-FR", "es-ES", "it-IT", "ja-JP", "nl-NL", "pl-PL")
# Eight placements of eight sizes: (slug, width, height).
PLACEMENTS = (
    ("pdp-square", 1024, 1024),
    ("hero-wide", 1536, 1024),
    ("story-tall", 1024, 1536),
    ("banner", 1536, 1024),
    ("tile", 1024, 1024),
    ("portrait", 1024, 1536),
    ("thumb", 512, 512),
    ("leaderboard", 1536, 1024),
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2x2x1,8x8x3", help="markets x placements x creatives, comma-separated")
    parser.add_argument("--repeat", type=int, default=25, help="timed requests per measurement (the median)")
    parser.add_argument("--smoke", action="store_true", help="2x2x1 and 3x3x2, 3 requests each")
    parser.add_argument("--queries", action="store_true", help="print the grid request's statements")
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.repeat = "2x2x1,3x3x2", 3
    args.grids = []
    for size in args.sizes.split(","):
        markets, placements, creatives = (int(n) for n in size.split("x"))
        if not (1 <= markets <= len(LOCALES) and 1 <= placements <= len(PLACEMENTS) and 1 <= creatives <= 10):
            parser.error(f"--sizes: {size}: at most {len(LOCALES)} markets, {len(PLACEMENTS)} placements, 10 creatives")
        args.grids.append((markets, placements, creatives))
    return args


def png_bytes(width: int, height: int) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 60)).save(buffer, format="PNG")
    return buffer.getvalue()


def seed(index: int, markets: int, placements: int, creatives: int) -> tuple[str, int, int, object]:
    """A tenant with a campaign of markets x placements x creatives cells, each with an output; a job with the same
    number of outputs. Returns (API key token, campaign id, baseline job id, a reviewer of the tenant)."""
    from django.contrib.auth import get_user_model

    from dam.blobs import blob_put
    from dam.lifecycle import VersionStatus
    from dam.models import AssetVersion
    from dam.services.assets import asset_create, asset_version_create, rendition_create
    from generation.lifecycle import JobState
    from generation.models import CampaignCell, Job
    from generation.services.campaigns import campaign_create, campaign_run
    from generation.services.submission import job_submit
    from tenants.models import Role, Scope
    from tenants.services import api_key_create, membership_set, placement_create, tenant_create

    tenant = tenant_create(slug=f"bench-grid-{index}", name=f"Bench grid {markets}x{placements}x{creatives}")
    token = api_key_create(tenant=tenant, name="bench", scopes=[Scope.JOBS_READ]).token
    reviewer = get_user_model().objects.create_user(username=f"bench-reviewer-{index}", is_staff=True)
    membership_set(tenant=tenant, user=reviewer, role=Role.REVIEWER)
    for slug, width, height in PLACEMENTS[:placements]:
        placement_create(tenant=tenant, slug=slug, width=width, height=height, output_format="jpeg")
    slugs = [slug for slug, _, _ in PLACEMENTS[:placements]]
    locales = LOCALES[:markets]
    campaign = campaign_create(
        tenant=tenant,
        name="Summer",
        markets=[{"locale": locale, "copy": f"Summer sale {locale}"} for locale in locales],
        placements=slugs,
        creatives=[{"key": f"creative-{n}", "prompt": f"A green tent, scene {n}"} for n in range(creatives)],
        quality="low",
    )
    # The jobs through the job service, as a run submits them; no worker: nothing is queued.
    with mock.patch("generation.tasks.run_job.delay"), mock.patch("generation.tasks.run_job.apply_async"):
        run = campaign_run(campaign=campaign, scope="all")
        baseline = job_submit(
            tenant=tenant,
            body={"prompt": "A green tent", "placements": slugs, "locales": dict.fromkeys(locales, "Sale")},
        ).job
    jobs = {planned.creative: job for planned, job, _ in run.submitted}
    original = blob_put(tenant_id=tenant.pk, kind="originals", data=png_bytes(64, 64), image_format="png")
    cut = blob_put(tenant_id=tenant.pk, kind="renditions", data=png_bytes(32, 32), image_format="jpeg")
    cells, version_ids = [], []
    # Outputs as the worker files them (its rendition task not queued): versions of the jobs with placement cuts.
    with mock.patch("dam.services.assets.renditions_up_front_enqueue"):
        for number, (creative, locale, slug) in enumerate((c, m, s) for c in jobs for m in locales for s in slugs):
            for job, cell in ((jobs[creative], True), (baseline, False)):
                asset = asset_create(
                    tenant=tenant,
                    title=f"Summer / {creative} / {locale}",
                    source="generated",
                    locale=locale,
                    campaign_id=campaign.pk if cell else None,
                    creative=creative if cell else "",
                    placements=[slug],
                )
                version = asset_version_create(
                    asset=asset,
                    blob=original,
                    width=64,
                    height=64,
                    image_format="png",
                    new_asset=True,
                    job_id=job.pk,
                    provider_request_id=f"bench-{index}-{number}-{int(cell)}",
                    output_index=0,
                    locale=locale,
                )
                rendition_create(
                    version=version,
                    spec=f"placement:{slug}",
                    blob=cut,
                    width=32,
                    height=32,
                    image_format="jpeg",
                    placement_slug=slug,
                )
                version_ids.append(version.pk)
                if cell:
                    cells.append(
                        CampaignCell(
                            tenant=tenant,
                            campaign=campaign,
                            creative=creative,
                            locale=locale,
                            placement=slug,
                            asset=asset,
                            current_version=version,
                            last_job=job,
                            campaign_version=1,
                        )
                    )
    CampaignCell.objects.for_tenant(tenant).bulk_create(
        cells,
        update_conflicts=True,
        unique_fields=["campaign", "creative", "locale", "placement"],
        update_fields=["asset", "current_version", "last_job"],
    )
    AssetVersion.objects.for_tenant(tenant).filter(pk__in=version_ids).update(status=VersionStatus.NEEDS_REVIEW)
    Job.objects.for_tenant(tenant).filter(pk__in=[baseline.pk, *(j.pk for j in jobs.values())]).update(
        state=JobState.SUCCEEDED
    )
    return token, campaign.pk, baseline.pk, reviewer


def measure(client, url: str, repeat: int, *, show: bool = False) -> tuple[float, int, bytes]:
    """(median seconds, queries of one request, the body)."""
    from django.db import connection

    response = client.get(url)  # warm-up: caches (tenant, key) as a running server has them
    assert response.status_code == 200, (url, response.status_code, response.content[:500])
    statements: list[str] = []

    def counted(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    # A wrapper, not the debug query log: the request's start signal resets that log. The fewest of three
    # requests: the API key's cached lookup is refreshed now and then (one more statement, not the page's).
    counts = []
    for _ in range(3):
        statements.clear()
        with connection.execute_wrapper(counted):
            response = client.get(url)
        assert response.status_code == 200
        counts.append(len(statements))
    for number, sql in enumerate(statements if show else [], 1):
        print(f"   {number:3d} {sql[:160]}")
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        client.get(url)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings), min(counts), response.content


def main() -> int:
    args = parse_args()
    with Stack("campaign_grid") as stack:
        stack.prepare_data_stores()
        stack.setup_django()
        import json

        from django.test import Client
        from rest_framework.test import APIClient

        header(
            "campaign grid JSON: server time and SQL queries by number of cells",
            {
                "grids": ", ".join(f"{m}x{p}x{c} = {m * p * c} cells" for m, p, c in args.grids)
                + " (markets x placements x creatives)",
                "each cell": "an asset, a needs-review version of its job, the placement's rendition",
                "baseline": "GET /api/v1/jobs/{id} of one job with as many outputs (versions + renditions)",
                "staff page": "GET /admin/generation/campaign/{id}/ as a reviewer (session login)",
                "timing": f"in process (test clients), median of {args.repeat} after a warm-up",
            },
        )
        rows, grid_queries, page_queries = [], {}, {}
        for index, (markets, placements, creatives) in enumerate(args.grids):
            cells = markets * placements * creatives
            token, campaign_id, job_id, reviewer = seed(index, markets, placements, creatives)
            client = APIClient(HTTP_HOST="127.0.0.1")
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
            grid_s, grid_q, grid_body = measure(
                client, f"/api/v1/campaigns/{campaign_id}/grid", args.repeat, show=args.queries
            )
            job_s, job_q, job_body = measure(client, f"/api/v1/jobs/{job_id}", args.repeat)
            staff = Client(HTTP_HOST="127.0.0.1")
            staff.force_login(reviewer)
            page_s, page_q, page_body = measure(staff, f"/admin/generation/campaign/{campaign_id}/", args.repeat)
            thumbnails = page_body.count(b'class="ui-grid-item" data-status="needs_review"')
            if thumbnails != cells:
                raise RuntimeError(f"seeding: the staff page shows {thumbnails} of {cells} cells")
            page_queries[cells] = page_q
            grid = json.loads(grid_body)
            shown = sum(len(row["cells"]) for row in grid["rows"])
            outputs = len(json.loads(job_body)["outputs"])
            if shown != cells or outputs != cells or grid["counts"] != {"needs_review": cells}:
                raise RuntimeError(f"seeding: grid {shown} cells {grid['counts']}, job {outputs} outputs")
            grid_queries[cells] = grid_q
            rows.append(
                (
                    f"{markets}x{placements}x{creatives}",
                    cells,
                    f"{grid_s * 1000:.1f} ms",
                    grid_q,
                    f"{len(grid_body) / 1024:.0f} KB",
                    f"{page_s * 1000:.1f} ms",
                    page_q,
                    f"{len(page_body) / 1024:.0f} KB",
                    f"{job_s * 1000:.1f} ms",
                    job_q,
                    f"{len(job_body) / 1024:.0f} KB",
                    f"{grid_s / job_s:.2f}x",
                )
            )
        print()
        table(
            rows,
            heading=(
                "grid",
                "cells",
                "grid JSON",
                "grid queries",
                "grid body",
                "staff page",
                "page queries",
                "page body",
                "baseline: job JSON",
                "job queries",
                "job body",
                "grid/job time",
            ),
        )
        smallest, largest = min(grid_queries), max(grid_queries)
        growth = grid_queries[largest] - grid_queries[smallest]
        print(
            f"\n   grid queries: {grid_queries[smallest]} at {smallest} cells, {grid_queries[largest]} at {largest} "
            f"cells ({growth:+d})"
        )
        page_growth = page_queries[largest] - page_queries[smallest]
        print(
            f"   page queries: {page_queries[smallest]} at {smallest} cells, {page_queries[largest]} at {largest} "
            f"cells ({page_growth:+d})"
        )
        met = verdict(
            f"grid queries added from {smallest} to {largest} cells", growth, target=1, higher_is_better=False, unit=""
        )
        page_met = verdict(
            f"staff page queries added from {smallest} to {largest} cells",
            page_growth,
            target=1,
            higher_is_better=False,
            unit="",
        )
    return 0 if met and page_met else MISSED_TARGET


if __name__ == "__main__":
    run_main(main)
