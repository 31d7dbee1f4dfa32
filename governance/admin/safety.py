"""Safety configuration versions in the staff UI, read only: new versions come from `safety_config_update`
(the API and the policy editor)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html_join

from governance.models import SafetyConfig
from tenants.admin.base import TenantScopedAdmin
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
