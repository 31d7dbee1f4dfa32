"""Campaigns in the staff UI: the list, the create/edit form, and the admin that mounts the campaign pages.

The form saves through `campaign_create` / `campaign_update`, the services behind `POST` and `PATCH
/api/v1/campaigns`: one set of rules for both. The grid page and its actions are in `campaign_grid`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from dam.models import Collection
from generation.admin import campaign_grid
from generation.admin.campaign_grid import FIELD_WORDS, campaign_or_404, page_context
from generation.admin.forms import QUALITIES
from generation.models import Campaign
from generation.selectors.campaigns import campaign_summaries, campaign_version_current, campaigns_for_tenant
from generation.services.campaigns import MAX_CREATIVES, campaign_create, campaign_update
from tenants.admin.base import TenantScopedAdmin, admin_tenant_context, require_scope
from tenants.audit import RequestOrigin
from tenants.errors import ServiceError
from tenants.models import Scope, Tenant
from tenants.selectors import placements_for_tenant

LIST_PER_PAGE = 25
# Blank rows the form offers beyond the campaign's own: enough for an 8-market, 3-creative campaign in one save.
MIN_MARKET_ROWS = 8
MIN_CREATIVE_ROWS = 3
# "Add rows" re-renders the form with what was typed and this many more blank rows; nothing is saved.
MORE_ROWS = {"markets": 4, "creatives": 1}
MARKET_INPUTS = ("locale", "copy", "alt_text")
CREATIVE_INPUTS = ("key", "name", "prompt")
# --- list ----------------------------------------------------------------------------------------


def campaign_list_view(model_admin: CampaignAdmin, request: HttpRequest) -> HttpResponse:
    context = require_scope(request, Scope.JOBS_READ)
    if context.tenant is None:
        return TemplateResponse(
            request, "admin/generation/job/choose_tenant.html", page_context(model_admin, request, title="Campaigns")
        )
    archived = request.GET.get("archived") == "1"
    campaigns = Paginator(campaigns_for_tenant(tenant=context.tenant, archived=archived), LIST_PER_PAGE)
    page = campaigns.get_page(request.GET.get("page"))
    summaries = campaign_summaries(tenant=context.tenant, campaigns=list(page.object_list))
    rows = []
    for campaign in page.object_list:
        summary = summaries.get(campaign.pk)
        if summary is None:
            continue  # no current version (never happens: a campaign is created with its first version)
        rows.append(
            {
                "campaign": campaign,
                "markets": summary.markets,
                "placements": summary.placements,
                "creatives": summary.creatives,
                "counts": sorted(summary.counts.items(), key=lambda item: campaign_grid.STATUS_ORDER.index(item[0])),
                "spend_usd": summary.spend_usd,
            }
        )
    return TemplateResponse(
        request,
        "admin/generation/campaign/change_list.html",
        page_context(
            model_admin,
            request,
            title="Campaigns",
            rows=rows,
            page=page,
            archived=archived,
            can_edit=context.can(Scope.JOBS_WRITE),
            can_see_costs=context.can(Scope.COSTS_READ),
        ),
    )


# --- create / edit form --------------------------------------------------------------------------


@dataclass
class CampaignFormState:
    name: str = ""
    brief: str = ""
    collection: str = ""
    quality: str = ""
    markets: list[dict[str, str]] = field(default_factory=list)
    placements: list[str] = field(default_factory=list)
    creatives: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def of(cls, post: Any) -> CampaignFormState:
        """The form as posted; a row with every input empty is a blank row, not a market or creative."""
        markets = [
            {"locale": locale.strip(), "copy": copy.strip(), "alt_text": alt.strip()}
            for locale, copy, alt in zip(
                post.getlist("market_locale"),
                post.getlist("market_copy"),
                post.getlist("market_alt_text"),
                strict=False,
            )
            if locale.strip() or copy.strip() or alt.strip()
        ]
        creatives = [
            {"key": key.strip(), "name": name.strip(), "prompt": prompt.strip()}
            for key, name, prompt in zip(
                post.getlist("creative_key"),
                post.getlist("creative_name"),
                post.getlist("creative_prompt"),
                strict=False,
            )
            if key.strip() or name.strip() or prompt.strip()
        ]
        return cls(
            name=post.get("name", "").strip(),
            brief=post.get("brief", "").strip(),
            collection=post.get("collection", ""),
            quality=post.get("quality", ""),
            markets=markets,
            placements=post.getlist("placements"),
            creatives=creatives,
        )

    @classmethod
    def of_campaign(cls, campaign: Campaign) -> CampaignFormState:
        version = campaign_version_current(campaign=campaign)
        return cls(
            name=campaign.name,
            brief=version.brief,
            collection=campaign.collection.slug if campaign.collection_id else "",
            quality=version.quality,
            markets=[
                {"locale": m["locale"], "copy": m.get("copy", ""), "alt_text": m.get("alt_text", "")}
                for m in version.markets
            ],
            placements=list(version.placements),
            creatives=[
                {"key": c["key"], "name": c.get("name", ""), "prompt": c.get("prompt", "")} for c in version.creatives
            ],
        )

    def version_values(self) -> dict[str, Any]:
        # alt_text is only sent when given: an empty one would be stored as a market's alt text of "".
        markets = [{k: v for k, v in m.items() if v or k in ("locale", "copy")} for m in self.markets]
        return {
            "brief": self.brief,
            "markets": markets,
            "placements": self.placements,
            "creatives": self.creatives,
            "quality": self.quality,
        }


def _errors(exc: ServiceError | ValidationError) -> dict[str, list[str]]:
    if isinstance(exc, ServiceError):
        return {(exc.field or "non_field_errors").split(".")[0]: [exc.message]}
    if hasattr(exc, "error_dict"):
        return {name: [str(m) for m in errors] for name, errors in exc.message_dict.items()}
    return {"non_field_errors": [str(m) for m in exc.messages]}


def _form_page(
    model_admin: CampaignAdmin,
    request: HttpRequest,
    tenant: Tenant,
    *,
    state: CampaignFormState,
    campaign: Campaign | None,
    errors: dict[str, list[str]],
    status: int = 200,
    blank_rows: dict[str, int] | None = None,
) -> TemplateResponse:
    """`blank_rows`: how many blank market and creative rows to offer (by default: up to the minimum rows, and
    at least two and one beyond what is filled)."""
    blank_market = {"locale": "", "copy": "", "alt_text": ""}
    blank_creative = {"key": "", "name": "", "prompt": ""}
    blank = {
        "markets": max(2, MIN_MARKET_ROWS - len(state.markets)),
        "creatives": max(1, MIN_CREATIVE_ROWS - len(state.creatives)),
        **(blank_rows or {}),
    }
    markets = state.markets + [blank_market] * blank["markets"]
    creatives = state.creatives + [blank_creative] * blank["creatives"]
    error_list = [
        (FIELD_WORDS.get(name, name.replace("_", " ").capitalize()), m) for name, ms in errors.items() for m in ms
    ]
    context = page_context(
        model_admin,
        request,
        title=f"Edit {campaign.name}" if campaign else "New campaign",
        campaign=campaign,
        state=state,
        errors=errors,
        error_list=error_list,
        markets=markets,
        creatives=creatives[:MAX_CREATIVES],
        placements=list(placements_for_tenant(tenant=tenant)),
        collections=list(Collection.objects.for_tenant(tenant).order_by("name").values_list("slug", "name")[:200]),
        qualities=QUALITIES,
        can_add_creatives=len(creatives) < MAX_CREATIVES,
    )
    return TemplateResponse(request, "admin/generation/campaign/form.html", context, status=status)


def _more_rows(
    model_admin: CampaignAdmin,
    request: HttpRequest,
    tenant: Tenant,
    state: CampaignFormState,
    campaign: Campaign | None,
) -> TemplateResponse | None:
    """The form again with more blank rows, when "Add rows" was pressed (nothing is saved); else None."""
    which = request.POST.get("more")
    if which not in MORE_ROWS:
        return None
    # The blank rows already on the page (what was typed in them is in `state`) plus the ones asked for.
    prefix = "market_locale" if which == "markets" else "creative_key"
    shown = len(request.POST.getlist(prefix))
    filled = len(state.markets if which == "markets" else state.creatives)
    other = "creatives" if which == "markets" else "markets"
    other_shown = len(request.POST.getlist("creative_key" if which == "markets" else "market_locale"))
    other_filled = len(state.creatives if which == "markets" else state.markets)
    blank_rows = {which: max(0, shown - filled) + MORE_ROWS[which], other: max(1, other_shown - other_filled)}
    return _form_page(model_admin, request, tenant, state=state, campaign=campaign, errors={}, blank_rows=blank_rows)


def campaign_add_view(model_admin: CampaignAdmin, request: HttpRequest) -> HttpResponse:
    context = require_scope(request, Scope.JOBS_WRITE)
    tenant = context.tenant
    if tenant is None:
        return TemplateResponse(
            request, "admin/generation/job/choose_tenant.html", page_context(model_admin, request, title="New campaign")
        )
    if request.method == "GET":
        return _form_page(model_admin, request, tenant, state=CampaignFormState(), campaign=None, errors={})
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    state = CampaignFormState.of(request.POST)
    if (more := _more_rows(model_admin, request, tenant, state, None)) is not None:
        return more
    try:
        campaign = campaign_create(
            tenant=tenant,
            name=state.name,
            collection=state.collection or None,
            created_by=request.user,
            origin=RequestOrigin.of(request),
            **state.version_values(),
        )
    except (ServiceError, ValidationError) as exc:
        return _form_page(model_admin, request, tenant, state=state, campaign=None, errors=_errors(exc), status=400)
    messages.success(request, f"Campaign “{campaign.name}” created (version 1). Nothing runs until you press Run.")
    return HttpResponseRedirect(reverse("admin:generation_campaign_change", args=[campaign.pk]))


def campaign_edit_view(model_admin: CampaignAdmin, request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign, tenant = campaign_or_404(request, campaign_id, scope=Scope.JOBS_WRITE)
    if request.method == "GET":
        state = CampaignFormState.of_campaign(campaign)
        return _form_page(model_admin, request, tenant, state=state, campaign=campaign, errors={})
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    state = CampaignFormState.of(request.POST)
    if (more := _more_rows(model_admin, request, tenant, state, campaign)) is not None:
        return more
    before = campaign.version
    try:
        campaign = campaign_update(
            campaign=campaign,
            name=state.name,
            collection=state.collection or None,
            created_by=request.user,
            origin=RequestOrigin.of(request),
            **state.version_values(),
        )
    except (ServiceError, ValidationError) as exc:
        return _form_page(model_admin, request, tenant, state=state, campaign=campaign, errors=_errors(exc), status=400)
    if campaign.version != before:
        messages.success(request, f"Saved as version {campaign.version}. Jobs already running keep version {before}.")
    else:
        messages.success(request, "Saved. What the campaign asks for did not change, so it stays at this version.")
    return HttpResponseRedirect(reverse("admin:generation_campaign_change", args=[campaign.pk]))


@admin.register(Campaign)
class CampaignAdmin(TenantScopedAdmin):
    """Campaigns are made and changed on their own pages (through the campaign services), never a model form."""

    scopes = {"view": Scope.JOBS_READ, "add": None, "change": None, "delete": None}

    def get_urls(self):
        view = self.admin_site.admin_view

        def bound(function):
            return view(partial(function, self))

        return [
            path("", bound(campaign_list_view), name="generation_campaign_changelist"),
            path("add/", bound(campaign_add_view), name="generation_campaign_add"),
            path("<int:campaign_id>/", bound(campaign_grid.campaign_page), name="generation_campaign_change"),
            path("<int:campaign_id>/edit/", bound(campaign_edit_view), name="generation_campaign_edit"),
            path("<int:campaign_id>/grid/", bound(campaign_grid.grid_view), name="generation_campaign_grid"),
            path("<int:campaign_id>/compare/", bound(campaign_grid.compare_view), name="generation_campaign_compare"),
            path("<int:campaign_id>/run/", bound(campaign_grid.run_view), name="generation_campaign_run"),
            path("<int:campaign_id>/review/", bound(campaign_grid.review_view), name="generation_campaign_review"),
            path("<int:campaign_id>/cell/", bound(campaign_grid.cell_review_view), name="generation_campaign_cell"),
            path(
                "<int:campaign_id>/rendition/<int:rendition_id>/thumbnail/",
                bound(campaign_grid.cell_thumbnail_view),
                name="generation_campaign_thumbnail",
            ),
            path("<int:campaign_id>/export/", bound(campaign_grid.export_view), name="generation_campaign_export"),
        ]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return admin_tenant_context(request).can(Scope.JOBS_READ)
