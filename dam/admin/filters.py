"""Filters of the asset browser: the API's own filters (`dam.selectors.search`), by the same parameter
names, so the browser and `GET /api/v1/assets` answer the same question the same way and a browser
query string is a bulk selection the service can re-run. Their choices come from the already
tenant-scoped rows, so a filter never lists another tenant's collections, tags, markets or placements.

Choices cost the same at a million assets as at a thousand (bench/data_scale.py, docs/sizing.md): collections
are the tenant's collections that hold an asset (one index probe each); markets and campaigns are walked through
an index, one probe per value (`dam.selectors.facets`: every value, however old); placements are the tenant's
placements; tags are read from the newest TAG_SAMPLE assets (an array column has no index to walk). The "All
tenants" view of a platform admin reads the newest CHOICE_SAMPLE assets of every tenant instead."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Exists, F, Func, OuterRef, QuerySet
from django.http import HttpRequest

from dam.lifecycle import VersionStatus
from dam.models import Asset, Collection, Rendition
from dam.selectors.facets import asset_campaign_ids, asset_locales
from dam.selectors.search import ARCHIVED_CHOICES, SORTS, AssetFilters, assets_filter
from tenants.admin.base import admin_tenant_context
from tenants.models import Placement
from tenants.numbers import is_digits

MAX_CHOICES = 200
CHOICE_SAMPLE = 10_000
# Tags are gathered from this many of the newest assets: unnesting 10,000 assets' tags cost ~30 ms a page.
TAG_SAMPLE = 2_000


def _recent(request: HttpRequest, model_admin: admin.ModelAdmin, sample: int = CHOICE_SAMPLE) -> QuerySet:
    """The newest `sample` assets the viewer may see, as a subquery of ids."""
    ids = model_admin.get_queryset(request).order_by("-id").values("pk")[:sample]
    return Asset.unscoped.filter(pk__in=ids)


def _tenant_id(request: HttpRequest) -> int | None:
    """The tenant whose choices to walk; None in a platform admin's "All tenants" view."""
    context = admin_tenant_context(request)
    return None if context.all_tenants or context.tenant is None else context.tenant.pk


class SearchFilter(admin.SimpleListFilter):
    """A filter whose rows are the search selector's answer for `AssetFilters(<field>=value)`."""

    field = ""

    def __init__(self, request: HttpRequest, params: dict, model: Any, model_admin: admin.ModelAdmin) -> None:
        super().__init__(request, params, model, model_admin)
        value = self.value()
        # A value typed into the query string that the choices do not list (an older tag, a placement deleted
        # since) still filters, and the select shows it.
        if value and value not in {str(v) for v, _ in self.lookup_choices}:
            self.lookup_choices = [*self.lookup_choices, (value, value)]

    def filters(self) -> AssetFilters | None:
        value = self.value()
        return AssetFilters(**{self.field: value}) if value else None

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        filters = self.filters()
        # With the tenant known, a collection is matched by its id (the newest page walks (tenant, collection, id)).
        return assets_filter(queryset, filters, tenant_id=_tenant_id(request)) if filters else queryset


class CollectionFilter(SearchFilter):
    title = "collection"
    parameter_name = field = "collection"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        assets = model_admin.get_queryset(request)
        # The collections of the visible assets' tenants that hold one of them: a probe of (tenant, collection, id)
        # per collection, where gathering the assets' collection ids read every asset.
        holds = assets.filter(collection_id=OuterRef("pk")).values("pk")[:1]
        collections = Collection.unscoped.filter(Exists(holds))
        tenant = admin_tenant_context(request).tenant
        if tenant is not None:  # (a superuser's "All tenants" view asks every tenant's collections)
            collections = collections.filter(tenant=tenant)
        rows = collections.order_by("name").values_list("slug", "name")[:MAX_CHOICES]
        return [(slug, name) for slug, name in rows]


class TagFilter(SearchFilter):
    title = "tag"
    parameter_name = field = "tag"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        tags = (
            _recent(request, model_admin, TAG_SAMPLE)
            .annotate(tag=Func(F("tags"), function="unnest"))
            .order_by("tag")
            .values_list("tag", flat=True)
            .distinct()[:MAX_CHOICES]
        )
        return [(tag, tag) for tag in tags]


class LocaleFilter(SearchFilter):
    """The market: the asset's or its version's locale, or a locale it has alt text for."""

    title = "market"
    parameter_name = field = "locale"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        tenant_id = _tenant_id(request)
        if tenant_id is not None:
            return [(code, code) for code in asset_locales(tenant_id=tenant_id, limit=MAX_CHOICES)]
        locales = (
            _recent(request, model_admin)
            .exclude(locale="")
            .order_by("locale")
            .values_list("locale", flat=True)
            .distinct()[:MAX_CHOICES]
        )
        return [(code, code) for code in locales]


class PlacementFilter(SearchFilter):
    title = "placement"
    parameter_name = field = "placement"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        tenant_id = _tenant_id(request)
        if tenant_id is not None:
            # The tenant's placements: what campaigns carry and renditions are cut for (a placement deleted since
            # is still matched by its slug in the query string).
            slugs = Placement.objects.for_tenant(tenant_id).order_by("slug").values_list("slug", flat=True)
            return [(slug, slug) for slug in slugs[:MAX_CHOICES]]
        assets = _recent(request, model_admin)
        carried = assets.annotate(slug=Func(F("placements"), function="unnest")).values_list("slug", flat=True)
        # Renditions hang from versions of the scoped assets: no tenant is crossed.
        rendered = (
            Rendition.unscoped.filter(version__asset__in=assets.values("pk"))
            .exclude(placement_slug="")
            .order_by("placement_slug")  # (the model's ordering would join DISTINCT: one row per rendition)
            .values_list("placement_slug", flat=True)
            .distinct()
        )
        slugs = sorted({*carried.distinct()[:MAX_CHOICES], *rendered[:MAX_CHOICES]})[:MAX_CHOICES]
        return [(slug, slug) for slug in slugs]


class CampaignFilter(SearchFilter):
    title = "campaign"
    parameter_name = field = "campaign"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        tenant_id = _tenant_id(request)
        if tenant_id is not None:
            ids = asset_campaign_ids(tenant_id=tenant_id, limit=MAX_CHOICES)
            return [(str(i), f"Campaign #{i}") for i in ids]
        ids = (
            _recent(request, model_admin)
            .exclude(campaign_id=None)
            .order_by("-campaign_id")
            .values_list("campaign_id", flat=True)
            .distinct()[:MAX_CHOICES]
        )
        return [(str(i), f"Campaign #{i}") for i in ids]

    def filters(self) -> AssetFilters | None:
        value = self.value()
        return AssetFilters(campaign=int(value)) if value and is_digits(value) and len(value) <= 18 else None


class StatusFilter(SearchFilter):
    """The status of the asset's current version."""

    title = "status"
    parameter_name = field = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return list(VersionStatus.choices)


class SourceFilter(SearchFilter):
    title = "source"
    parameter_name = field = "source"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return list(Asset.Source.choices)


class ArchivedFilter(admin.SimpleListFilter):
    """Archived assets are out of the grid unless asked for, like `GET /api/v1/assets` without `archived`:
    no value is "false", so this filter narrows even when nothing is chosen."""

    title = "archived"
    parameter_name = "archived"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("true", "Archived"), ("all", "Active and archived")]

    def chosen(self) -> str:
        value = self.value()
        return value if value in ARCHIVED_CHOICES else "false"

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return assets_filter(queryset, AssetFilters(archived=self.chosen()))

    def choices(self, changelist: Any):
        yield {
            "selected": self.chosen() == "false",
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Active",
        }
        for value, label in self.lookup_choices:
            yield {
                "selected": self.chosen() == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }


def grid_sort(chosen: str, query: str) -> str:
    """The grid's order: the one chosen, else the best matches first for a search, else the newest."""
    return chosen if chosen in SORTS else ("relevance" if query.strip() else "newest")


class SortFilter(admin.SimpleListFilter):
    """Not a filter: the order of the grid (`dam.selectors.search.assets_sorted`, applied by the change list).
    A list filter so the admin takes `sort` as a known parameter and the toolbar draws it like the others."""

    title = "sort"
    parameter_name = "sort"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return list(SORTS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset

    def has_output(self) -> bool:
        return True

    def choices(self, changelist: Any):
        current = grid_sort(self.value() or "", changelist.query)
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }
