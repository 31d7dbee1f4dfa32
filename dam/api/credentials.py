"""Content Credentials over the API: a stored file's manifest and its validation, and the public verifier.

GET  /assets/{id}/versions/{n}/credentials                    the version's original (assets:read)
GET  /assets/{id}/versions/{n}/credentials?rendition=<spec>   one of its renditions, by the spec its row lists
POST /verify                                                  anyone: a multipart `file`, checked and never stored

Both answer the same report (dam.credentials.verify.CredentialsReport): present, valid (signature and hashes),
trusted (chains to C2PA_TRUST_ANCHORS), signer and issuer, actions, the ingredient chain (rendition -> original
-> the provider's manifest), c2pa's status codes, and the manifest store as c2pa-python reads it.

A storefront key (only `assets:read`) reads the credentials of the versions it can see, as it could verify the
delivered bytes itself; any other version is a 404, as another tenant's is.
"""

from __future__ import annotations

import io
import logging
import time
from functools import lru_cache
from typing import Any

import redis
from django.conf import settings
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, throttling
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dam.api.library import MULTIPART_OVERHEAD
from dam.api.review import _VersionView
from dam.credentials.verify import STATES, CredentialsReport, stored_credentials, verify_file
from dam.models import AssetVersion, Rendition
from dam.selectors.storefront import storefront_versions
from dam.services.uploads import UploadTooLarge
from tenants.api.base import EndpointMetadata
from tenants.api.serializers import InputSerializer
from tenants.audit import client_ip_of
from tenants.input_guard import GuardedMultiPartParser
from tenants.models import Scope
from tenants.numbers import is_digits

logger = logging.getLogger(__name__)

MAX_SPEC_LENGTH = 200  # Rendition.spec's column


class StatusSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["failure", "informational", "success"])
    code = serializers.CharField(help_text="c2pa validation status code, e.g. `assertion.dataHash.mismatch`")
    explanation = serializers.CharField(allow_null=True)
    url = serializers.CharField(allow_null=True, help_text="The JUMBF URI the status is about")


class CredentialsSerializer(serializers.Serializer):
    """The report of one file (dam.credentials.verify.CredentialsReport)."""

    present = serializers.BooleanField(help_text="The file carries a C2PA manifest store")
    valid = serializers.BooleanField(help_text="The active manifest's signature and every hash check out")
    trusted = serializers.BooleanField(help_text="Valid, and the signing certificate chains to a trust anchor")
    state = serializers.CharField(help_text=" | ".join(STATES))
    signer = serializers.CharField(allow_null=True, help_text="The signing certificate's organisation (or name)")
    signer_name = serializers.CharField(allow_null=True, help_text="The signing certificate's common name")
    issuer = serializers.CharField(allow_null=True, help_text="The CA that issued the signing certificate")
    title = serializers.CharField(allow_null=True)
    claim_generator = serializers.CharField(allow_null=True)
    format = serializers.CharField(allow_null=True)
    error = serializers.CharField(allow_null=True, help_text="Why an unreadable file could not be read")
    actions = serializers.ListField(child=serializers.DictField(), help_text="The active manifest's actions, in order")
    ingredients = serializers.ListField(
        child=serializers.DictField(),
        help_text="The chain: each ingredient {title, format, relationship, manifest, signer, signer_name, issuer, "
        "claim_generator, actions, valid, trusted, validation, ingredients (nested the same way)}",
    )
    validation = StatusSerializer(many=True)
    manifest_store = serializers.DictField(help_text="The manifest store as c2pa-python's Reader gives it")


class StoredCredentialsSerializer(CredentialsSerializer):
    version = serializers.IntegerField(help_text="The version's number")
    rendition = serializers.CharField(allow_null=True, help_text="The rendition's spec; null: the original")
    sha256 = serializers.CharField(help_text="Of the stored file that was read")


EXAMPLE_REPORT: dict[str, Any] = {
    "present": True,
    "valid": True,
    "trusted": True,
    "state": "trusted",
    "signer": "Acme Brand GmbH",
    "signer_name": "Acme Content Signing",
    "issuer": "Acme Intermediate CA (Acme)",
    "title": "hero-1200x628.webp",
    "claim_generator": "DAM Content Credentials 1",
    "format": "webp",
    "error": None,
    "actions": [{"action": "c2pa.opened"}, {"action": "c2pa.resized"}, {"action": "c2pa.transcoded"}],
    "ingredients": [
        {
            "title": "original",
            "format": "image/png",
            "relationship": "parentOf",
            "manifest": "urn:c2pa:1d6b…",
            "signer": "Acme Brand GmbH",
            "signer_name": "Acme Content Signing",
            "issuer": "Acme Intermediate CA (Acme)",
            "claim_generator": "DAM Content Credentials 1",
            "actions": [{"action": "c2pa.opened"}, {"action": "c2pa.edited"}],
            "valid": True,
            "trusted": True,
            "validation": [],
            "ingredients": [
                {
                    "title": "AI Generated Image",
                    "format": "image/png",
                    "relationship": "parentOf",
                    "manifest": "urn:c2pa:9a0e…",
                    "signer": "Microsoft Corporation",
                    "signer_name": "Azure OpenAI ImageGen",
                    "issuer": "Microsoft Supply Chain RSA Root CA 2022",
                    "claim_generator": "Azure OpenAI ImageGen",
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
                        }
                    ],
                    "valid": True,
                    "trusted": False,
                    "validation": [
                        {
                            "kind": "failure",
                            "code": "signingCredential.untrusted",
                            "explanation": "signing certificate untrusted",
                            "url": "self#jumbf=/c2pa/urn:c2pa:9a0e…/c2pa.signature",
                        }
                    ],
                    "ingredients": [],
                }
            ],
        }
    ],
    "validation": [
        {
            "kind": "success",
            "code": "signingCredential.trusted",
            "explanation": "signing certificate trusted, found in [system_anchors] trust anchors",
            "url": "self#jumbf=/c2pa/urn:c2pa:5c1f…/c2pa.signature",
        },
        {
            "kind": "success",
            "code": "assertion.dataHash.match",
            "explanation": "data hash valid",
            "url": "self#jumbf=/c2pa/urn:c2pa:5c1f…/c2pa.assertions/c2pa.hash.data",
        },
    ],
    "manifest_store": {"active_manifest": "urn:c2pa:5c1f…", "manifests": {}, "validation_state": "Trusted"},
}


def _report_body(report: CredentialsReport) -> dict[str, Any]:
    return report.to_dict()


class VersionCredentialsView(_VersionView):
    required_scopes = {"GET": Scope.ASSETS_READ}

    @extend_schema(
        summary="The Content Credentials of a version's original or one of its renditions, validated",
        description="Reads the stored file and validates its C2PA manifest: signature and hashes (`valid`), the "
        "signing certificate against the configured trust anchors (`trusted`), who signed it, its actions and "
        "its chain of ingredients (a rendition -> its original -> the image model provider's manifest). A file "
        "without a manifest answers 200 with `present: false`. `rendition`: a spec as the version's renditions "
        "list it (`placement:hero`, `width-800|format-webp`); an unknown one is a 400 naming `rendition`.",
        parameters=[
            OpenApiParameter(
                "rendition",
                str,
                required=False,
                description="A rendition's spec (URL-encode `|` as `%7C`); default: the version's original",
            )
        ],
        responses={200: StoredCredentialsSerializer},
        examples=[
            OpenApiExample(
                "A rendition's credentials",
                value={
                    "version": 2,
                    "rendition": "placement:hero",
                    "sha256": "5f2b…",
                    **EXAMPLE_REPORT,
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request, pk: int, number: int) -> Response:
        version = self.version(pk, number)
        if request.tenant_context.is_storefront and not _visible(version):
            raise exceptions.NotFound("no such asset version")
        spec = request.query_params.get("rendition")
        stored: AssetVersion | Rendition = version
        if spec is not None:
            stored = _rendition(version, spec)
        report = stored_credentials(stored)
        return Response({"version": version.number, "rendition": spec, "sha256": stored.sha256, **_report_body(report)})


def _visible(version: AssetVersion) -> bool:
    return storefront_versions(tenant=version.tenant_id).filter(pk=version.pk).exists()


def _rendition(version: AssetVersion, spec: str) -> Rendition:
    if not spec or len(spec) > MAX_SPEC_LENGTH:
        raise exceptions.ValidationError({"rendition": [f"a rendition spec of 1 to {MAX_SPEC_LENGTH} characters"]})
    rendition = Rendition.objects.for_tenant(version.tenant_id).filter(version=version, spec=spec).first()
    if rendition is None:
        specs = list(
            Rendition.objects.for_tenant(version.tenant_id).filter(version=version).values_list("spec", flat=True)
        )
        listed = ", ".join(specs[:20]) if specs else "none yet"
        raise exceptions.ValidationError(
            {
                "rendition": [
                    exceptions.ErrorDetail(
                        f"this version has no rendition {spec!r} (it has: {listed})", code="does_not_exist"
                    )
                ]
            }
        )
    return rendition


# --- The public verifier ---------------------------------------------------------------------------------


class InMemoryUploadHandler(FileUploadHandler):
    """Keeps the uploaded file in memory and refuses it past UPLOAD_MAX_BYTES: the verifier's upload never
    touches a disk (Django's default spools bodies over 2.5 MB to a temporary file)."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.buffer = io.BytesIO()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        if start + len(raw_data) > settings.UPLOAD_MAX_BYTES:
            raise UploadTooLarge(f"the file has more than {settings.UPLOAD_MAX_BYTES:,} bytes; that is the limit")
        self.buffer.write(raw_data)

    def file_complete(self, file_size: int) -> InMemoryUploadedFile:
        self.buffer.seek(0)
        return InMemoryUploadedFile(
            file=self.buffer,
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )


@lru_cache(maxsize=4)
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class AnonymousRateThrottle(throttling.BaseThrottle):
    """A fixed window per client address (the one the audit trail records, TRUSTED_PROXY_COUNT), counted in
    Redis so that every web process shares it. Redis being down lets requests through (and logs it): the
    verifier stays up with the rest of the API, which Redis does not gate either."""

    scope = "verify"
    rate_setting = "VERIFY_THROTTLE_RATE"

    def allow_request(self, request: Request, view: APIView) -> bool:
        count, _, period = getattr(settings, self.rate_setting).partition("/")
        seconds = _PERIODS[period[:1]]
        now = time.time()
        window = int(now // seconds)
        self.retry_after = max(1, int((window + 1) * seconds - now))
        key = f"{settings.RATE_LIMIT_KEY_PREFIX}:throttle:{self.scope}:{self.get_ident(request)}:{window}"
        try:
            pipeline = _redis(settings.REDIS_URL).pipeline()
            pipeline.incr(key)
            pipeline.expire(key, seconds + 1)
            used, _ = pipeline.execute()
        except redis.RedisError as error:
            logger.warning("throttle %s not counted (Redis): %s", self.scope, error)
            return True
        return int(used) <= int(count)

    def get_ident(self, request: Request) -> str:
        return client_ip_of(request) or request.META.get("REMOTE_ADDR", "") or "unknown"

    def wait(self) -> float | None:
        return self.retry_after


class VerifyRequestSerializer(InputSerializer):
    file = serializers.FileField(help_text="PNG, JPEG, WebP or AVIF, recognised from the bytes; never stored")


class VerifyView(APIView):
    """Anyone may ask whether an image carries valid Content Credentials: no key, no tenant, nothing kept."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AnonymousRateThrottle]
    parser_classes = [GuardedMultiPartParser]
    metadata_class = EndpointMetadata
    public_operation = True  # config.openapi: documented as needing no key
    required_scopes = {"POST": None}

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Before the body is parsed (a view's own code runs later): memory only, capped.
        request._request.upload_handlers = [InMemoryUploadHandler(request._request)]
        super().initial(request, *args, **kwargs)

    @extend_schema(
        summary="Verify any image's Content Credentials (public, nothing stored)",
        description="Multipart `file`: PNG, JPEG, WebP or AVIF (recognised from the bytes) up to UPLOAD_MAX_BYTES "
        "and UPLOAD_MAX_PIXELS, as uploads. Answers whether it carries a C2PA manifest, whether the manifest is "
        "valid (signature and hashes) and trusted (the signing certificate chains to this platform's trust "
        "anchors), who signed it and its chain of ingredients. The file is read in memory and dropped: nothing is "
        "written to storage or the database. No authentication; throttled per client address "
        "(VERIFY_THROTTLE_RATE, 429 with `Retry-After`). 413: too large; 415: not an accepted type; 422: "
        "truncated, corrupt or too many pixels.",
        request={"multipart/form-data": VerifyRequestSerializer},
        responses={
            200: CredentialsSerializer,
            413: OpenApiResponse(description="The file is larger than UPLOAD_MAX_BYTES"),
            415: OpenApiResponse(description="Not a PNG, JPEG, WebP or AVIF file"),
            422: OpenApiResponse(description="The file is truncated or corrupt, or declares too many pixels"),
            429: OpenApiResponse(description="Too many verifications from this address: `Retry-After` says when"),
        },
        examples=[OpenApiExample("A rendition's credentials", value=EXAMPLE_REPORT, response_only=True)],
    )
    def post(self, request: Request) -> Response:
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if is_digits(declared) and int(declared) > settings.UPLOAD_MAX_BYTES + MULTIPART_OVERHEAD:
            # Refused before the body is read.
            raise UploadTooLarge(
                f"the request has {int(declared):,} bytes; the file limit is {settings.UPLOAD_MAX_BYTES:,}"
            )
        form = VerifyRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        report = verify_file(form.validated_data["file"].read())
        logger.info("verify: a %s file, %s, signed by %s", report.format, report.state, report.signer)
        return Response(_report_body(report))
