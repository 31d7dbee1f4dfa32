"""The asset library in the staff UI: the asset browser (a thumbnail grid) and collections."""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import InvalidPage
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import path

from dam.admin import bulk_operations as admin_bulk
from dam.admin import credentials as admin_credentials
from dam.admin import editing as admin_editing
from dam.admin import uploads as admin_uploads
from dam.admin import views as admin_views
from dam.admin.filters import (
    ArchivedFilter,
    CampaignFilter,
    CollectionFilter,
    LocaleFilter,
    PlacementFilter,
    SortFilter,
    SourceFilter,
    StatusFilter,
    TagFilter,
    grid_sort,
)
from dam.admin.paging import CappedPaginator, RankedPaginator
from dam.models import Asset, AssetVersion, Collection
from dam.selectors.search import MAX_QUERY_CHARS, AssetFilters, assets_filter, assets_sorted
from dam.services.metadata import collection_create
from tenants.admin.base import TenantScopedAdmin, admin_tenant_context
from tenants.audit import Actor, RequestOrigin
from tenants.models import Scope


class AssetChangeList(ChangeList):
    """The grid's order comes from the search selector (newest, oldest, relevance, name), after the filters;
    a search without a chosen order ranks by relevance. Counted up to a cap ("10,000+"); a best-match list ranks
    the newest RANK_CANDIDATES matches and pages on through the older ones (`RankedPaginator`)."""

    matches: QuerySet | None = None  # a best-match list's matches, unranked (for its count and later pages)
    ranking = ""  # the search it ranks by

    def get_queryset(self, request: HttpRequest, exclude_parameters=None) -> QuerySet:
        queryset = super().get_queryset(request, exclude_parameters)
        q = self.query[:MAX_QUERY_CHARS]
        sort = grid_sort(request.GET.get("sort", ""), self.query)
        if sort == "relevance" and q:
            self.matches, self.ranking = queryset, q  # ranked page by page (RankedPaginator)
            return queryset.order_by("-id")
        self.matches = None
        return assets_sorted(queryset, sort=sort, q=q)

    def get_results(self, request: HttpRequest) -> None:
        if self.matches is None:
            super().get_results(request)
        else:
            self._ranked_results()
        # Counted up to a cap (CappedPaginator): "10,000+ assets" past it.
        self.count_label = self.paginator.count_label
        self.count_capped = self.paginator.capped
        # Versions are counted for the page's assets only (one grouped query); annotated on the list's queryset,
        # the count joined and grouped every asset of the tenant, for the filters' choices and the total too.
        ids = [asset.pk for asset in self.result_list]
        counts = dict(
            AssetVersion.unscoped.filter(asset_id__in=ids)
            .values("asset_id")
            .annotate(n=Count("id"))
            .values_list("asset_id", "n")
        )
        for asset in self.result_list:
            asset.version_count = counts.get(asset.pk, 0)

    def _ranked_results(self) -> None:
        """ChangeList.get_results for a best-match list: the page from the paginator that knows both parts."""
        paginator = RankedPaginator(self.matches, self.list_per_page, q=self.ranking)
        result_count = paginator.count
        self.can_show_all = result_count <= self.list_max_show_all
        self.multi_page = result_count > self.list_per_page
        if (self.show_all and self.can_show_all) or not self.multi_page:
            self.result_list = list(paginator.ranked)  # every match is a ranked candidate
        else:
            try:
                self.result_list = paginator.page(self.page_num).object_list
            except InvalidPage:
                raise IncorrectLookupParameters from None
        self.result_count = result_count
        self.show_full_result_count = False
        self.show_admin_actions = True
        self.full_result_count = None
        self.paginator = paginator


@admin.register(Asset)
class AssetAdmin(TenantScopedAdmin):
    scopes = {"view": Scope.ASSETS_READ, "add": None, "change": None, "delete": None}
    change_list_template = "admin/dam/asset/grid.html"
    list_display = ["title", "collection", "locale", "source", "created_at"]
    list_filter = [
        CollectionFilter,
        CampaignFilter,
        LocaleFilter,
        PlacementFilter,
        TagFilter,
        StatusFilter,
        SourceFilter,
        ArchivedFilter,
        SortFilter,
    ]
    # Searched by the API's full-text search (get_search_results), not by these columns.
    search_fields = ["title"]
    search_help_text = "Title, tags, alt text, prompt, market or job family"
    list_per_page = 48
    show_full_result_count = False

    def scoped_queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.select_related("collection", "current_version", "tenant")

    def get_changelist(self, request: HttpRequest, **kwargs):
        return AssetChangeList

    def get_paginator(self, request: HttpRequest, queryset: QuerySet, per_page: int, orphans: int = 0, **kwargs):
        return CappedPaginator(queryset, per_page, orphans=orphans, **kwargs)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip()[:MAX_QUERY_CHARS]
        return (assets_filter(queryset, AssetFilters(q=term)) if term else queryset), False

    def get_urls(self):
        view = self.admin_site.admin_view

        def bound(function):
            return view(partial(function, self))

        return [
            path("upload/", bound(admin_uploads.upload_view), name="dam_asset_upload"),
            path("bulk/", bound(admin_editing.asset_bulk), name="dam_asset_bulk"),
            path("bulk-operations/", bound(admin_bulk.bulk_operations_view), name="dam_asset_bulk_operations"),
            path(
                "bulk-operations/<int:operation_id>/",
                bound(admin_bulk.bulk_operation_view),
                name="dam_asset_bulk_operation",
            ),
            path(
                "bulk-operations/<int:operation_id>/progress/",
                bound(admin_bulk.bulk_operation_progress_view),
                name="dam_asset_bulk_operation_progress",
            ),
            path("<int:asset_id>/edit/", bound(admin_editing.asset_edit), name="dam_asset_edit"),
            path("<int:asset_id>/compare/", bound(admin_views.asset_compare), name="dam_asset_compare"),
            path(
                "version/<int:version_id>/thumbnail/",
                bound(admin_views.version_thumbnail_view),
                name="dam_asset_thumbnail",
            ),
            path("version/<int:version_id>/file/", bound(admin_views.version_file_view), name="dam_asset_version_file"),
            path(
                "check/<int:check_id>/evidence/",
                bound(admin_views.check_evidence_view),
                name="dam_version_check_evidence",
            ),
            path(
                "rendition/<int:rendition_id>/file/",
                bound(admin_views.rendition_file_view),
                name="dam_asset_rendition_file",
            ),
            path(
                "rendition/<int:rendition_id>/credentials/",
                bound(admin_credentials.rendition_credentials_view),
                name="dam_asset_rendition_credentials",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        return admin_views.asset_page(self, request, object_id)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        context = admin_tenant_context(request)
        extra = {
            "can_generate": context.can(Scope.JOBS_WRITE) and context.tenant is not None,
            "can_upload": context.can(Scope.ASSETS_WRITE) and context.tenant is not None,
            "can_bulk": context.can(Scope.ASSETS_WRITE) and context.tenant is not None,
            "can_review": context.can(Scope.REVIEWS_WRITE) and context.tenant is not None,
            # The hand-off export takes the bar's selection as it is (dam.admin.exports).
            "export_url": admin_editing.export_url() if context.can(Scope.ASSETS_READ) and context.tenant else None,
            "bulk_collections": admin_editing.collections_of(context.tenant),
            # A selection above BULK_INLINE_MAX becomes a bulk operation, up to this many assets.
            "max_bulk": settings.BULK_OPERATION_MAX_ASSETS,
            # Unarchive is offered where archived assets are shown.
            "viewing_archived": request.GET.get("archived") in ("true", "all"),
            "thumbnail_width": 480,
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=extra)


@admin.register(Collection)
class CollectionAdmin(TenantScopedAdmin):
    scopes = {"view": Scope.ASSETS_READ, "add": Scope.ASSETS_WRITE, "change": None, "delete": None}
    list_display = ["name", "slug", "asset_count", "created_at"]
    search_fields = ["name", "slug"]
    fields = ["name", "slug"]

    def scoped_queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.annotate(assets_total=Count("assets"))

    @admin.display(description="Assets", ordering="assets_total")
    def asset_count(self, obj: Collection) -> int:
        return obj.assets_total

    def save_model(self, request: HttpRequest, obj: Collection, form, change: bool) -> None:
        # The API's service: its slug rule, its "already exists" and its audit event (a refusal
        # comes back as a form error, see ServiceWritesAdmin).
        saved = collection_create(
            tenant=admin_tenant_context(request).tenant,
            slug=obj.slug,
            name=obj.name,
            actor=Actor.for_user(request.user),
            origin=RequestOrigin.of(request),
        )
        obj.pk, obj.tenant_id = saved.pk, saved.tenant_id
