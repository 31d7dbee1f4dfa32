"""A version's deterministic checks with their evidence.

GET /assets/{id}/versions/{n}/checks    the copy read back, the crops, palette, legibility, logo (assets:read)
POST /assets/{id}/versions/{n}/checks   check the version again (assets:write): 202, the checks run in the background

Lists (assets, jobs, the review queue, the campaign grid) carry the overview (`checks`: state, copy verdict,
brand score) from the version row; this endpoint has the rows with their evidence and a picture of it. A
storefront key never sees checks; a version never served to the caller (blocked) has no evidence picture URL.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from dam.api.review import _VersionView
from dam.blobs import blob_url
from dam.lifecycle import is_servable
from dam.models import VersionCheck
from dam.selectors.checks import checks_overview, version_checks
from dam.services.checks import version_checks_rerun
from tenants.audit import Actor, RequestOrigin
from tenants.models import Scope


class VersionCheckSerializer(serializers.ModelSerializer):
    evidence_url = serializers.SerializerMethodField(help_text="A picture of the evidence (boxes drawn), or null")

    class Meta:
        model = VersionCheck
        fields = [
            "kind",
            "placement",
            "outcome",
            "verdict",
            "score",
            "evidence",
            "evidence_url",
            "seconds",
            "created_at",
        ]

    def get_evidence_url(self, check: VersionCheck) -> str | None:
        if not check.evidence_key or not self.context.get("servable", False):
            return None
        return blob_url(check.evidence_key)


EXAMPLE: dict[str, Any] = {
    "state": "done",
    "copy": {"verdict": "near", "cer": 0.05, "read": "Sommerschlussverkauf", "unreadable": []},
    "brand_score": {"passed": 2, "run": 3},
    "results": [
        {
            "kind": "copy",
            "placement": "",
            "outcome": "warn",
            "verdict": "near",
            "score": 0.05,
            "evidence": {"expected": "Sommerschlussverkauf", "read": "Sommerschlusverkauf", "cer": 0.05},
            "evidence_url": "https://storage.example/tenants/1/evidence/ab/ab12.png",
            "seconds": 0.61,
            "created_at": "2026-12-07T10:00:00Z",
        }
    ],
}


class VersionChecksView(_VersionView):
    required_scopes = {"GET": Scope.ASSETS_READ, "POST": Scope.ASSETS_WRITE}

    @extend_schema(
        summary="A version's copy and brand checks, each with its evidence",
        responses=inline_serializer(
            "VersionChecks",
            {
                "state": serializers.CharField(help_text="none | pending | done | failed"),
                "copy": serializers.DictField(allow_null=True),
                "brand_score": serializers.DictField(allow_null=True, help_text="{passed, run}"),
                "results": VersionCheckSerializer(many=True),
            },
        ),
        examples=[OpenApiExample("Checks", value=EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, pk: int, number: int) -> Response:
        if request.tenant_context.is_storefront:
            raise exceptions.NotFound("no such asset version")
        version = self.version(pk, number)
        context = {"servable": is_servable(version.status, storefront=False)}
        overview = checks_overview(version)
        return Response(
            {
                "state": overview["state"],
                "copy": overview["copy"],
                "brand_score": overview["brand_score"],
                "results": VersionCheckSerializer(version_checks(version=version), many=True, context=context).data,
            }
        )

    @extend_schema(
        summary="Check a version again",
        description="The version's copy is read back and its brand checks run again, in the background (the "
        "renditions pool), as for a new version; their rows replace the old ones, and `asset.version_checked` is "
        "sent when they finish. Use it after the checker failed (`state: failed`) or to read a version's copy "
        "again. A run again never approves a version and never withdraws an approved or published one (a mismatch "
        "blocks, under a blocking brand policy, only a version still in review). 409 `checks_pending` while its "
        "checks run, `version_blocked` for a blocked version, `nothing_to_check` when it has no copy the OCR reads "
        "and no palette or logo in its brand policy.",
        request=None,
        responses={
            202: inline_serializer("VersionChecksRequested", {"state": serializers.CharField(help_text="pending")}),
            409: OpenApiResponse(
                description="Not checked again: its checks are running (`checks_pending`), it is blocked "
                "(`version_blocked`), or it has nothing to check (`nothing_to_check`)"
            ),
        },
        examples=[OpenApiExample("Requested", value={"state": "pending"}, response_only=True)],
    )
    def post(self, request: Request, pk: int, number: int) -> Response:
        version = self.version(pk, number)
        version_checks_rerun(
            version=version, actor=Actor.from_context(request.tenant_context), origin=RequestOrigin.of(request)
        )
        return Response({"state": version.checks_state}, status=202)
