"""Filters of the asset browser. Their choices come from the already tenant-scoped rows, so a
filter never lists another tenant's collections, tags, locales or placements."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import F, Func, Q, QuerySet
from django.http import HttpRequest

from dam.lifecycle import VersionStatus
from dam.models import Rendition

MAX_CHOICES = 200


class TagFilter(admin.SimpleListFilter):
    title = "tag"
    parameter_name = "tag"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        tags = (
            model_admin.get_queryset(request)
            .annotate(tag=Func(F("tags"), function="unnest"))
            .order_by("tag")
            .values_list("tag", flat=True)
            .distinct()[:MAX_CHOICES]
        )
        return [(tag, tag) for tag in tags]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(tags__contains=[self.value()]) if self.value() else queryset


class LocaleFilter(admin.SimpleListFilter):
    title = "locale"
    parameter_name = "locale"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        locales = (
            model_admin.get_queryset(request)
            .exclude(locale="")
            .order_by("locale")
            .values_list("locale", flat=True)
            .distinct()[:MAX_CHOICES]
        )
        return [(code, code) for code in locales]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(locale=self.value()) if self.value() else queryset


class PlacementFilter(admin.SimpleListFilter):
    """Assets made for a placement: generated with it in the size plan, or (uploads, which have no
    plan) carrying its rendition. Every version gets every placement's rendition up front, so the
    renditions alone would not tell a banner from a story."""

    title = "placement"
    parameter_name = "placement"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        assets = model_admin.get_queryset(request)
        # Renditions hang from versions of the scoped assets: no tenant is crossed.
        slugs = (
            Rendition.unscoped.filter(version__asset__in=assets.values("pk"))
            .exclude(placement_slug="")
            .order_by("placement_slug")
            .values_list("placement_slug", flat=True)
            .distinct()[:MAX_CHOICES]
        )
        return [(slug, slug) for slug in slugs]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if not self.value():
            return queryset
        planned = Q(current_version__size_plan__contains={"placements": [{"slug": self.value()}]})
        unplanned = Q(current_version__size_plan={}) & Q(
            current_version__in=Rendition.unscoped.filter(placement_slug=self.value()).values("version_id")
        )
        return queryset.filter(planned | unplanned)


class StatusFilter(admin.SimpleListFilter):
    """The status of the asset's current version."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return list(VersionStatus.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(current_version__status=self.value()) if self.value() else queryset
