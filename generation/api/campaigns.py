"""Campaign endpoints: list, create, read, change (a new version), versions, run (with a dry run), grid, spend,
export.

Reads take `jobs:read` (spend: `costs:read`); writes and runs take `jobs:write`; an export takes `assets:read`, as
any export (a hand-off is reading).
"""

from __future__ import annotations

from typing import Any

from django.db.models import F, Prefetch, QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from dam.api.assets import viewer_context
from dam.api.exports import ExportSerializer, export_requested
from dam.lifecycle import VersionStatus
from generation.models import Campaign, CampaignVersion, CellStatus
from generation.selectors.campaigns import (
    campaign_grid,
    campaign_spend,
    campaign_version_current,
    campaign_versions,
    campaigns_for_tenant,
)
from generation.services.campaigns import SCOPES, campaign_create, campaign_estimate, campaign_run, campaign_update
from tenants.api.base import TenantScopedReadViewSet
from tenants.api.serializers import InputSerializer
from tenants.audit import Actor, RequestOrigin
from tenants.errors import NotFound
from tenants.models import Scope, Tenant

MONEY = {"max_digits": 20, "decimal_places": 6}
QUALITIES = ["low", "medium", "high"]

CAMPAIGN_EXAMPLE = {
    "name": "Summer sale 2027",
    "brief": "Lightweight tents for the summer season",
    "collection": "summer-2027",
    "markets": [
        {"locale": "en-GB", "copy": "Summer sale", "alt_text": "A green tent at dawn"},
        {"locale": "ja", "copy": "夏のセール"},
    ],
    "placements": ["pdp-square", "leaderboard"],
    "creatives": [{"key": "dawn", "name": "Tent at dawn", "prompt": "A green tent on a ridge at dawn"}],
    "quality": "medium",
}


class MarketSerializer(InputSerializer):
    locale = serializers.CharField(max_length=16, help_text="BCP 47 language tag, e.g. en-GB, ja, zh-Hant")
    copy = serializers.CharField(
        max_length=500, allow_blank=True, help_text="The in-image text for this market; empty: no text in its images"
    )
    alt_text = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    storefront = serializers.CharField(max_length=200, required=False, allow_blank=True)


class CreativeSerializer(InputSerializer):
    key = serializers.SlugField(max_length=64, help_text="Lowercase letters, digits and hyphens; unique per campaign")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    prompt = serializers.CharField(max_length=32_000)
    source_version_id = serializers.IntegerField(
        required=False, allow_null=True, help_text="An asset version to edit from (its id)"
    )


class CampaignVersionFieldsSerializer(InputSerializer):
    brief = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    markets = MarketSerializer(many=True, required=False)
    placements = serializers.ListField(child=serializers.SlugField(max_length=63), required=False)
    creatives = CreativeSerializer(many=True, required=False)
    quality = serializers.ChoiceField(
        choices=QUALITIES, required=False, allow_blank=True, help_text="blank: the brand policy's default"
    )
    routing = serializers.DictField(
        required=False,
        allow_null=True,
        help_text='As a job takes it: {"mode": "tier", "tier": ...}, {"mode": "bucket", "bucket": ...} or '
        '{"mode": "auto"}; null: auto',
    )
    deadline = serializers.DateTimeField(required=False, allow_null=True)


class CampaignCreateSerializer(CampaignVersionFieldsSerializer):
    name = serializers.CharField(max_length=200)
    collection = serializers.SlugField(required=False, allow_null=True, help_text="An existing collection's slug")
    markets = MarketSerializer(many=True)
    placements = serializers.ListField(child=serializers.SlugField(max_length=63))
    creatives = CreativeSerializer(many=True)


class CampaignUpdateSerializer(CampaignVersionFieldsSerializer):
    name = serializers.CharField(max_length=200, required=False)
    collection = serializers.SlugField(required=False, allow_null=True)
    archived = serializers.BooleanField(required=False)


class CampaignVersionSerializer(serializers.ModelSerializer):
    markets = serializers.ListField(child=serializers.DictField())
    placements = serializers.ListField(child=serializers.CharField())
    creatives = serializers.ListField(child=serializers.DictField())
    routing = serializers.DictField(allow_null=True)

    class Meta:
        model = CampaignVersion
        fields = [
            "number",
            "brief",
            "markets",
            "placements",
            "creatives",
            "quality",
            "routing",
            "deadline",
            "created_by",
            "created_by_key",
            "created_at",
        ]


class CampaignSerializer(serializers.ModelSerializer):
    collection = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    current = serializers.SerializerMethodField(help_text="The current version")

    class Meta:
        model = Campaign
        fields = ["id", "name", "owner", "collection", "version", "archived", "current", "created_at", "updated_at"]

    @extend_schema_field(CampaignVersionSerializer)
    def get_current(self, campaign: Campaign) -> dict[str, Any] | None:
        try:
            return CampaignVersionSerializer(campaign_version_current(campaign=campaign)).data
        except NotFound:
            return None


class CellRefSerializer(InputSerializer):
    creative = serializers.CharField()
    locale = serializers.CharField()
    placement = serializers.CharField()


class RunSerializer(InputSerializer):
    scope = serializers.ChoiceField(choices=SCOPES, default="all")
    cells = CellRefSerializer(many=True, required=False, help_text="scope=cells: the cells to run")
    locale = serializers.CharField(required=False, help_text="scope=row: the market")
    placement = serializers.CharField(required=False, help_text="scope=column: the placement")
    dry_run = serializers.BooleanField(
        default=False, help_text="Answer the plan and its estimate; nothing is submitted, stored or held"
    )


class PlannedJobSerializer(serializers.Serializer):
    creative = serializers.CharField()
    locales = serializers.ListField(child=serializers.CharField())
    placements = serializers.ListField(child=serializers.CharField())
    job = serializers.IntegerField(required=False, help_text="the submitted job (not in a dry run)")
    replayed = serializers.BooleanField(required=False, help_text="an earlier click's job, not a new one")
    provider_calls = serializers.IntegerField(required=False)
    images = serializers.IntegerField(required=False)
    estimated_output_tokens = serializers.IntegerField(required=False)
    estimated_usd = serializers.DecimalField(**MONEY, required=False, allow_null=True)


class SkippedCellSerializer(serializers.Serializer):
    creative = serializers.CharField()
    locale = serializers.CharField()
    placement = serializers.CharField()
    status = serializers.ChoiceField(choices=CellStatus.choices)


class RefusedJobSerializer(serializers.Serializer):
    creative = serializers.CharField()
    locales = serializers.ListField(child=serializers.CharField())
    placements = serializers.ListField(child=serializers.CharField())
    field = serializers.CharField()
    code = serializers.CharField()
    reason = serializers.CharField()


class RunResultSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    version = serializers.IntegerField(help_text="the campaign version the jobs generate")
    jobs = PlannedJobSerializer(many=True)
    refused = RefusedJobSerializer(many=True, help_text="jobs refused after others were submitted, and why")
    skipped = SkippedCellSerializer(many=True, help_text="cells in scope that need nothing (not failed/rejected)")
    estimated_usd = serializers.DecimalField(**MONEY, required=False, allow_null=True)


class GridCheckSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="copy, crop, palette, legibility or logo")
    placement = serializers.CharField(help_text="the placement of a crop check; empty for the others")
    outcome = serializers.CharField(help_text="pass, warn or fail")
    verdict = serializers.CharField()
    score = serializers.FloatField(allow_null=True)


class GridChecksSerializer(serializers.Serializer):
    state = serializers.CharField(help_text="none, pending, done or failed")
    copy = serializers.DictField(allow_null=True, help_text="{verdict: exact | near | mismatch, cer, read}")
    brand_score = serializers.DictField(
        allow_null=True, child=serializers.IntegerField(), help_text="{passed, run} once the checks are done"
    )
    checks = GridCheckSerializer(many=True)


class GridCellSerializer(serializers.Serializer):
    creative = serializers.CharField()
    locale = serializers.CharField()
    placement = serializers.CharField()
    status = serializers.ChoiceField(choices=CellStatus.choices)
    asset = serializers.IntegerField(allow_null=True)
    version = serializers.IntegerField(allow_null=True, help_text="the current version's id")
    version_number = serializers.IntegerField(allow_null=True)
    job = serializers.IntegerField(allow_null=True, help_text="the last job that generated the cell")
    url = serializers.CharField(allow_null=True, help_text="the original; none for a blocked version")
    placement_url = serializers.CharField(allow_null=True, help_text="the placement's exact rendition")
    moderation = serializers.CharField(
        allow_null=True, help_text="the version's moderation badge: pass, flag or block (none without a version)"
    )
    checks = GridChecksSerializer(
        allow_null=True,
        help_text="the version's copy and brand checks (none without a version, and for a storefront key); details "
        "with their evidence: GET /assets/{id}/versions/{n}/checks",
    )
    cost_usd = serializers.DecimalField(**MONEY)


class GridRowSerializer(serializers.Serializer):
    locale = serializers.CharField()
    cells = GridCellSerializer(many=True, help_text="placement by placement, creative by creative")


class GridPlacementSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)


class GridSerializer(serializers.Serializer):
    campaign = serializers.IntegerField()
    version = serializers.IntegerField()
    markets = serializers.ListField(child=serializers.DictField())
    placements = GridPlacementSerializer(many=True)
    creatives = serializers.ListField(child=serializers.DictField())
    rows = GridRowSerializer(many=True, help_text="one per market")
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="cells per status")
    spend_usd = serializers.DecimalField(**MONEY)


class SpendSerializer(serializers.Serializer):
    campaign = serializers.IntegerField()
    jobs = serializers.IntegerField()
    total_usd = serializers.DecimalField(**MONEY)
    by_market = inline_serializer(
        "CampaignMarketSpend",
        {"locale": serializers.CharField(), "amount_usd": serializers.DecimalField(**MONEY)},
        many=True,
    )
    by_creative = inline_serializer(
        "CampaignCreativeSpend",
        {"creative": serializers.CharField(), "amount_usd": serializers.DecimalField(**MONEY)},
        many=True,
    )


class CampaignExportSerializer(InputSerializer):
    market = serializers.CharField(
        required=False, allow_blank=True, max_length=16, help_text="Only this market (its locale)"
    )
    placement = serializers.SlugField(required=False, allow_blank=True, help_text="Only this placement's files")
    status = serializers.ChoiceField(
        choices=VersionStatus.choices, required=False, allow_blank=True, help_text="Only cells whose version has it"
    )
    include_originals = serializers.BooleanField(
        required=False, default=True, help_text="Also each version's original, under <market>/original/"
    )


class CampaignViewSet(TenantScopedReadViewSet):
    serializer_class = CampaignSerializer
    required_scopes = {
        "list": Scope.JOBS_READ,
        "retrieve": Scope.JOBS_READ,
        "versions": Scope.JOBS_READ,
        "grid": Scope.JOBS_READ,
        "spend": Scope.COSTS_READ,
        "create": Scope.JOBS_WRITE,
        "partial_update": Scope.JOBS_WRITE,
        "run": Scope.JOBS_WRITE,
        "export": Scope.ASSETS_READ,
    }
    http_method_names = ["get", "post", "patch", "head", "options"]

    def scoped_queryset(self, tenant: Tenant) -> QuerySet[Campaign]:
        current = CampaignVersion.unscoped.filter(number=F("campaign__version"))
        return campaigns_for_tenant(tenant=tenant).prefetch_related(
            Prefetch("versions", queryset=current, to_attr="current_versions")
        )

    def _actor_kwargs(self, request: Request) -> dict[str, Any]:
        context = request.tenant_context
        return {"created_by": context.user, "created_by_key": context.api_key, "origin": RequestOrigin.of(request)}

    def _detail(self, campaign: Campaign) -> dict[str, Any]:
        return CampaignSerializer(campaign, context=self.get_serializer_context()).data

    @extend_schema(
        summary="Create a campaign (its version 1)",
        request=CampaignCreateSerializer,
        responses={201: CampaignSerializer},
        examples=[OpenApiExample("Two markets, two placements, one creative", value=CAMPAIGN_EXAMPLE)],
    )
    def create(self, request: Request) -> Response:
        serializer = CampaignCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = campaign_create(tenant=self.tenant, **self._actor_kwargs(request), **serializer.validated_data)
        return Response(
            self._detail(campaign),
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/campaigns/{campaign.pk}"},
        )

    @extend_schema(
        summary="Change a campaign: a change of what it asks for makes its next version",
        request=CampaignUpdateSerializer,
        responses={200: CampaignSerializer},
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        serializer = CampaignUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = campaign_update(
            campaign=self.get_object(), **self._actor_kwargs(request), **serializer.validated_data
        )
        return Response(self._detail(campaign))

    @extend_schema(
        summary="The versions of a campaign, newest first",
        responses={200: inline_serializer("CampaignVersionList", {"results": CampaignVersionSerializer(many=True)})},
    )
    @action(detail=True, methods=["get"])
    def versions(self, request: Request, pk: str | None = None) -> Response:
        versions = campaign_versions(campaign=self.get_object())
        return Response({"results": CampaignVersionSerializer(versions, many=True).data})

    @extend_schema(
        summary="Run the campaign (all, some cells, a market's row or a placement's column), or plan it (dry_run)",
        description="Generates only the cells in scope that are planned, failed or rejected: one job per creative "
        "and set of placements, through the job service (budget holds, moderation, idempotency). A second "
        "identical click replays the first click's jobs. 202 when jobs were submitted, 200 otherwise.",
        request=RunSerializer,
        responses={200: RunResultSerializer, 202: RunResultSerializer},
    )
    @action(detail=True, methods=["post"])
    def run(self, request: Request, pk: str | None = None) -> Response:
        serializer = RunSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        options = dict(serializer.validated_data)
        dry_run = options.pop("dry_run")
        campaign = self.get_object()
        if dry_run:
            estimate = campaign_estimate(
                campaign=campaign, actor=Actor.from_request(request), origin=RequestOrigin.of(request), **options
            )
            data = {
                "dry_run": True,
                "version": estimate.plan.version.number,
                "jobs": [
                    {
                        **_planned(row.job),
                        "provider_calls": row.provider_calls,
                        "images": row.images,
                        "estimated_output_tokens": row.estimated_output_tokens,
                        "estimated_usd": row.estimated_usd,
                    }
                    for row in estimate.jobs
                ],
                "refused": [],
                "skipped": estimate.plan.skipped,
                "estimated_usd": estimate.total_usd,
            }
            return Response(RunResultSerializer(data).data)
        context = request.tenant_context
        result = campaign_run(
            campaign=campaign,
            requested_by=context.user,
            requested_by_key=context.api_key,
            origin=RequestOrigin.of(request),
            **options,
        )
        data = {
            "dry_run": False,
            "version": result.plan.version.number,
            "jobs": [
                {**_planned(planned), "job": job.pk, "replayed": not created}
                for planned, job, created in result.submitted
            ],
            "refused": [
                {**_planned(planned), "field": error.field, "code": error.code, "reason": error.message}
                for planned, error in result.refused
            ],
            "skipped": result.plan.skipped,
        }
        created = any(created for _, _, created in result.submitted)
        return Response(
            RunResultSerializer(data).data, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
        )

    @extend_schema(
        summary="The campaign's grid: markets (rows) x placements x creatives, each cell's status, version and cost",
        responses={200: GridSerializer},
    )
    @action(detail=True, methods=["get"])
    def grid(self, request: Request, pk: str | None = None) -> Response:
        storefront = viewer_context(request)["storefront"]
        return Response(GridSerializer(campaign_grid(campaign=self.get_object(), storefront=storefront)).data)

    @extend_schema(
        summary="What the campaign cost so far, per market and creative (ledger)", responses={200: SpendSerializer}
    )
    @action(detail=True, methods=["get"])
    def spend(self, request: Request, pk: str | None = None) -> Response:
        campaign = self.get_object()
        spend = campaign_spend(campaign=campaign)
        money = serializers.DecimalField(**MONEY)
        return Response(
            {
                "campaign": campaign.pk,
                "jobs": spend.jobs,
                "total_usd": money.to_representation(spend.total_usd),
                "by_market": [
                    {"locale": locale, "amount_usd": money.to_representation(amount)}
                    for locale, amount in sorted(spend.by_market.items())
                ],
                "by_creative": [
                    {"creative": creative, "amount_usd": money.to_representation(amount)}
                    for creative, amount in sorted(spend.by_creative.items())
                ],
            }
        )

    @extend_schema(
        summary="Export the campaign as a zip laid out <market>/<placement>/<creative>.<ext>, built in the background",
        description="The export of POST /api/v1/exports with the selection {campaign_id: this campaign} and the "
        "filters given (`market`, `placement`, `status`): the current version of each of the campaign's assets "
        "(one per creative x market x aspect group), each placement's rendition under "
        "`<market>/<placement>/<creative>.<ext>`, originals under `<market>/original/`, and the manifests. "
        "202: poll GET /api/v1/exports/{id}, then download it.",
        request=CampaignExportSerializer,
        responses={202: ExportSerializer},
        examples=[OpenApiExample("One market's approved cells", value={"market": "ja", "status": "approved"})],
    )
    @action(detail=True, methods=["post"])
    def export(self, request: Request, pk: str | None = None) -> Response:
        form = CampaignExportSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        campaign = self.get_object()
        options = form.validated_data
        selection = {
            "campaign_id": campaign.pk,
            "locale": options.get("market", ""),
            "placement": options.get("placement", ""),
            "status": options.get("status", ""),
            "include_originals": options["include_originals"],
        }
        return export_requested(
            request, tenant=self.tenant, selection={key: value for key, value in selection.items() if value != ""}
        )


def _planned(planned: Any) -> dict[str, Any]:
    return {"creative": planned.creative, "locales": list(planned.locales), "placements": list(planned.placements)}
