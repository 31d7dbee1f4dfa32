"""Governance in the staff UI. Several modules contribute: append your model admins below others'.

Safety and review: safety configuration versions and review decisions are read here; new versions come
from `safety_config_update` (API), decisions from the review services (API).
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html_join

from governance.models import ReviewDecision, SafetyConfig
from tenants.admin_base import TenantScopedAdmin
from tenants.models import Scope


@admin.register(SafetyConfig)
class SafetyConfigAdmin(TenantScopedAdmin):
    scopes = {"view": Scope.JOBS_READ, "add": None, "change": None, "delete": None}
    list_display = [
        "version",
        "preset",
        "review_rule",
        "provider_moderation",
        "prompt_shield",
        "thresholds",
        "created_at",
    ]
    ordering = ["-version"]

    @admin.display(description="Thresholds (prompt / output)")
    def thresholds(self, config: SafetyConfig) -> str:
        rows = ((c, config.prompt_thresholds.get(c), config.output_thresholds.get(c)) for c in config.prompt_thresholds)
        return format_html_join(" ", '<span class="ui-chip">{} {}/{}</span>', rows)


@admin.register(ReviewDecision)
class ReviewDecisionAdmin(TenantScopedAdmin):
    scopes = {"view": Scope.JOBS_READ, "add": None, "change": None, "delete": None}
    list_display = ["created_at", "version", "action", "from_status", "to_status", "actor_label", "comment"]
    list_filter = ["action"]
    ordering = ["-id"]

    def scoped_queryset(self, request, queryset):
        return queryset.select_related("version")
