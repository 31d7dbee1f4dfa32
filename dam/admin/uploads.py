"""The upload page of the asset browser: files become assets through `dam.services.uploads.asset_upload`,
the service behind `POST /api/v1/assets` (same checks: bytes-sniffed type, size and pixel limits,
sanitised re-encoding, per-tenant dedupe, audit event)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from dam.models import Collection
from dam.services.uploads import asset_upload
from tenants.admin.base import require_scope
from tenants.audit import Actor, RequestOrigin
from tenants.errors import ServiceError
from tenants.models import Scope

if TYPE_CHECKING:
    from dam.admin.assets import AssetAdmin

MAX_FILES = 20


@dataclass(frozen=True)
class FileOutcome:
    name: str
    asset_id: int | None
    created: bool
    error: str = ""


def _error_text(exc: ServiceError | ValidationError) -> str:
    if isinstance(exc, ServiceError):
        return exc.message
    return "; ".join(str(m) for m in exc.messages)


def upload_view(model_admin: AssetAdmin, request: HttpRequest) -> HttpResponse:
    context = require_scope(request, Scope.ASSETS_WRITE)
    tenant = context.tenant
    if tenant is None:
        raise PermissionDenied("choose a tenant to upload into")
    collections = list(Collection.objects.for_tenant(tenant).order_by("name"))
    page = {
        **model_admin.admin_site.each_context(request),
        "title": "Upload",
        "opts": model_admin.model._meta,
        "collections": collections,
        "max_mb": settings.UPLOAD_MAX_BYTES // (1024 * 1024),
        "max_files": MAX_FILES,
        "values": request.POST,
    }
    request.current_app = model_admin.admin_site.name
    if request.method == "GET":
        return TemplateResponse(request, "admin/dam/asset/upload.html", page)
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    files = request.FILES.getlist("files")
    if not files or len(files) > MAX_FILES:
        page["form_error"] = f"Choose from 1 to {MAX_FILES} image files."
        return TemplateResponse(request, "admin/dam/asset/upload.html", page, status=400)
    tags = [t.strip() for t in request.POST.get("tags", "").split(",") if t.strip()]
    outcomes = []
    for upload in files:
        try:
            if upload.size > settings.UPLOAD_MAX_BYTES:
                raise ServiceError(f"{upload.size:,} bytes; the limit is {settings.UPLOAD_MAX_BYTES:,}", field="file")
            result = asset_upload(
                tenant=tenant,
                data=upload.read(),
                filename=upload.name or "",
                # One title for one file; several files keep their own names.
                title=request.POST.get("title", "").strip() if len(files) == 1 else "",
                tags=tags,
                collection=request.POST.get("collection", ""),
                locale=request.POST.get("locale", "").strip(),
                created_by=request.user,
                actor=Actor.for_user(request.user),
                origin=RequestOrigin.of(request),
            )
        except (ServiceError, ValidationError) as exc:
            outcomes.append(FileOutcome(upload.name or "file", None, False, _error_text(exc)))
        else:
            outcomes.append(FileOutcome(upload.name or "file", result.asset.pk, result.created))
    stored = [o for o in outcomes if o.asset_id]
    if len(outcomes) == 1 and stored:
        note = "Uploaded" if stored[0].created else "Already in the library (same bytes)"
        messages.success(request, f"{note}: {stored[0].name}.")
        return HttpResponseRedirect(reverse("admin:dam_asset_change", args=[stored[0].asset_id]))
    if stored and len(stored) == len(outcomes):
        messages.success(request, f"Uploaded {len(stored)} files.")
        return HttpResponseRedirect(reverse("admin:dam_asset_changelist"))
    page["outcomes"] = outcomes
    return TemplateResponse(request, "admin/dam/asset/upload.html", page, status=400 if not stored else 200)
