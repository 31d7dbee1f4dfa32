"""Brand policy and safety configuration editors: each save is a new version made by the service
(`tenants.services.brand_policy_update`, `governance.services.safety.safety_config_update`, the ones
the API calls), and the page shows what a version changed from the one before, field by field."""

from __future__ import annotations

import base64
import io
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from PIL import Image

from governance.models import SafetyConfig
from governance.safety.categories import CATEGORIES, SEVERITY_LEVELS
from governance.safety.policy import ProviderModeration, ReviewRule
from governance.services.safety import CONFIG_FIELDS, safety_config_update
from tenants.admin.base import page_context, require_scope
from tenants.audit import Actor, RequestOrigin
from tenants.models import BrandPolicy, CopyMismatchAction, OutputFormat, Scope, Tenant
from tenants.numbers import is_digits
from tenants.selectors import brand_logo_of, brand_policy_versions
from tenants.services import brand_policy_update
from tenants.services.brand import CHECK_RANGES, LOGO_MAX_BYTES, POLICY_FIELDS


def _lines(raw: str) -> list[str]:
    return [line.strip() for line in (raw or "").splitlines() if line.strip()]


def _list(raw: str) -> list[str]:
    return [item.strip() for item in (raw or "").replace("\n", ",").split(",") if item.strip()]


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        items = [
            item.get("text", "") + (" (regex)" if item.get("regex") else "") if isinstance(item, dict) else str(item)
            for item in value
        ]
        return ", ".join(items) if items else "—"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "—"
    return str(value) if value not in (None, "") else "—"


def field_diff(previous: Any, current: Any, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """One row per field: the previous and current value as shown, and whether it changed."""
    rows = []
    for name in fields:
        after = getattr(current, name)
        before = getattr(previous, name) if previous is not None else None
        rows.append(
            {
                "field": name.replace("_", " "),
                "before": _shown(before) if previous is not None else "—",
                "after": _shown(after),
                "changed": previous is None or before != after,
            }
        )
    return rows


def _selected(versions: list[Any], raw: str) -> tuple[Any, Any]:
    chosen = next((v for v in versions if str(v.version) == raw), versions[0] if versions else None)
    previous = next((v for v in versions if chosen and v.version == chosen.version - 1), None)
    return chosen, previous


def _errors(exc: ValidationError) -> dict[str, list[str]]:
    return exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}


def _tenant(request: HttpRequest) -> Tenant:
    context = require_scope(request, Scope.ADMIN)
    if context.tenant is None:
        raise PermissionDenied("choose a tenant first")
    return context.tenant


# --- brand policy ----------------------------------------------------------------------


CHECK_NUMBERS = tuple(CHECK_RANGES)


def _number(raw: str) -> Decimal | str:
    """A decimal as typed; what does not parse is passed on as text for the service to refuse, naming the field."""
    try:
        value = Decimal(raw.strip())
    except (InvalidOperation, AttributeError):
        return raw
    return value if value.is_finite() else raw


def _brand_changes(post: Any, current: BrandPolicy | None) -> dict[str, Any]:
    def kept(name: str) -> Any:
        # A field the form did not send keeps its value (a select or number input always sends one).
        return getattr(current, name) if current else BrandPolicy._meta.get_field(name).get_default()

    return {
        "style_guide": post.get("style_guide", "").strip(),
        "banned_terms": _lines(post.get("banned_terms", "")),
        "palette": [colour.upper() for colour in _list(post.get("palette", ""))],  # as the service stores them
        "default_quality": post.get("default_quality", ""),
        "default_output_format": post.get("default_output_format", ""),
        "default_locales": _list(post.get("default_locales", "")),
        "review_required": post.get("review_required") == "on",
        "copy_check": post.get("copy_check") == "on",
        "copy_mismatch_action": post.get("copy_mismatch_action", kept("copy_mismatch_action")),
        **{name: _number(post[name]) if name in post else kept(name) for name in CHECK_NUMBERS},
    }


def _logo_change(request: HttpRequest) -> dict[str, Any]:
    """{"logo": bytes} for an uploaded file, {"logo": None} to remove it, {} to keep the current one."""
    upload = request.FILES.get("logo")
    if upload is not None:
        # One byte past the limit is enough for the service to refuse it: a huge file is never read whole.
        return {"logo": upload.read(LOGO_MAX_BYTES + 1)}
    if request.POST.get("remove_logo") == "on":
        return {"logo": None}
    return {}


def _logo_preview(policy: BrandPolicy | None) -> str:
    """A small PNG of the policy's logo as a data: URL (the page's CSP allows data: images), or ""."""
    logo = brand_logo_of(policy=policy) if policy is not None else None
    if logo is None:
        return ""
    try:
        with Image.open(io.BytesIO(bytes(logo.data))) as image:
            image.thumbnail((320, 160))
            out = io.BytesIO()
            image.save(out, format="PNG")
    except (OSError, ValueError):
        return ""
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def brand_policy_editor_view(site: AdminSite, request: HttpRequest) -> HttpResponse:
    tenant = _tenant(request)
    versions = list(brand_policy_versions(tenant=tenant)[:50])
    current = versions[0] if versions else None
    errors: dict[str, list[str]] = {}
    form = None
    if request.method == "POST":
        form = _brand_changes(request.POST, current)
        logo = _logo_change(request)
        if logo.get("logo", ...) is None and (current is None or current.logo_id is None):
            logo = {}  # removing a logo there is not is no change
        before = {name: getattr(current, name) for name in POLICY_FIELDS} if current else None
        if before is not None and not logo and all(before[k] == v for k, v in form.items()):
            messages.info(request, "Nothing changed: no new version made.")
            return HttpResponseRedirect(reverse("admin:governance_brand_policy_editor"))
        try:
            with transaction.atomic():
                policy = brand_policy_update(
                    tenant=tenant,
                    created_by=request.user,
                    actor=Actor.for_user(request.user),
                    origin=RequestOrigin.of(request),
                    **form,
                    **logo,
                )
        except ValidationError as exc:
            errors = _errors(exc)
        else:
            messages.success(request, f"Brand policy v{policy.version} is now in force for new jobs.")
            return HttpResponseRedirect(reverse("admin:governance_brand_policy_editor"))
    chosen, previous = _selected(versions, request.GET.get("v", ""))
    values = form or {
        name: getattr(current, name) if current else BrandPolicy._meta.get_field(name).get_default()
        for name in POLICY_FIELDS
    }
    page = page_context(
        site,
        request,
        title="Brand policy",
        kind="brand",
        current=current,
        values={
            **values,
            "banned_terms": "\n".join(values["banned_terms"]),
            "palette_list": values["palette"],
            "palette": ", ".join(values["palette"]),
            "default_locales": ", ".join(values["default_locales"]),
        },
        errors=errors,
        versions=versions,
        chosen=chosen,
        previous=previous,
        diff=field_diff(previous, chosen, (*POLICY_FIELDS, "logo")) if chosen else [],
        qualities=BrandPolicy.Quality.values,
        formats=OutputFormat.values,
        mismatch_actions=CopyMismatchAction.choices,
        ranges={name: {"min": low, "max": high} for name, (low, high) in CHECK_RANGES.items()},
        logo=current.logo if current else None,
        logo_preview=_logo_preview(current),
        logo_max_mb=LOGO_MAX_BYTES // (1024 * 1024),
    )
    return TemplateResponse(request, "admin/governance/policy_editor.html", page, status=400 if errors else 200)


# --- safety configuration --------------------------------------------------------------


def _safety_changes(post: Any, current: SafetyConfig | None) -> dict[str, Any]:
    changes: dict[str, Any] = {
        "preset": post.get("preset", ""),
        "prompt_shield": post.get("prompt_shield") == "on",
        "provider_moderation": post.get("provider_moderation", ""),
        "review_rule": post.get("review_rule", ""),
    }
    for stage in ("prompt_thresholds", "output_thresholds"):
        thresholds = {}
        for category in CATEGORIES:
            raw = post.get(f"{stage}.{category}", "")
            if is_digits(raw):
                thresholds[category] = int(raw)
        changes[stage] = thresholds
    blocklist = []
    for line in _lines(post.get("blocklist", "")):
        regex = line.startswith("re:")
        blocklist.append({"text": line[3:].strip() if regex else line, "regex": regex})
    changes["blocklist"] = blocklist
    if current is not None and changes["preset"] == current.preset:
        changes.pop("preset")
    return changes


def _unchanged(current: SafetyConfig | None, changes: dict[str, Any]) -> bool:
    if current is None:
        return False
    for name, value in changes.items():
        old = getattr(current, name)
        if name == "blocklist":
            old = [{"text": i["text"], "regex": bool(i.get("regex"))} for i in old]
        if old != value:
            return False
    return True


def safety_editor_view(site: AdminSite, request: HttpRequest) -> HttpResponse:
    tenant = _tenant(request)
    versions = list(SafetyConfig.objects.for_tenant(tenant).order_by("-version")[:50])
    current = versions[0] if versions else None
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        changes = _safety_changes(request.POST, current)
        if _unchanged(current, changes):
            messages.info(request, "Nothing changed: no new version made.")
            return HttpResponseRedirect(reverse("admin:governance_safety_editor"))
        try:
            config = safety_config_update(tenant=tenant, created_by=request.user, **changes)
        except ValidationError as exc:
            errors = _errors(exc)
        else:
            messages.success(request, f"Safety configuration v{config.version} is now in force.")
            return HttpResponseRedirect(reverse("admin:governance_safety_editor"))
    chosen, previous = _selected(versions, request.GET.get("v", ""))
    thresholds = [
        {
            "name": c,
            "prompt": (current.prompt_thresholds.get(c) if current else None),
            "output": (current.output_thresholds.get(c) if current else None),
        }
        for c in CATEGORIES
    ]
    blocklist = "\n".join(
        ("re: " if i.get("regex") else "") + i["text"] for i in (current.blocklist if current else [])
    )
    page = page_context(
        site,
        request,
        title="Safety",
        kind="safety",
        current=current,
        thresholds=thresholds,
        levels=SEVERITY_LEVELS,
        blocklist=blocklist,
        presets=SafetyConfig.Preset.choices,
        review_rules=[r.value for r in ReviewRule],
        moderations=[m.value for m in ProviderModeration],
        errors=errors,
        versions=versions,
        chosen=chosen,
        previous=previous,
        diff=field_diff(previous, chosen, CONFIG_FIELDS) if chosen else [],
        errors_json=json.dumps(errors),
    )
    return TemplateResponse(request, "admin/governance/policy_editor.html", page, status=400 if errors else 200)
