from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from generation.admin import views as admin_views
from generation.foundry.config import DEPLOYMENT_SETTINGS, AuthKind
from generation.lifecycle import GenerationState
from generation.models import Deployment, Job
from generation.services.deployments import deployment_delete, deployment_save
from tenants.admin.base import ServiceWritesAdmin, TenantScopedAdmin, admin_tenant_context
from tenants.audit import Actor, RequestOrigin
from tenants.models import Scope


class DeploymentForm(forms.ModelForm):
    endpoint = forms.URLField(
        max_length=300, assume_scheme="https", help_text=Deployment._meta.get_field("endpoint").help_text
    )
    # Write-only: the stored key is never rendered back into the page, not even masked.
    api_key = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to keep the stored key. It is encrypted at rest and never shown again.",
    )
    clear_api_key = forms.BooleanField(
        required=False, help_text="Remove the stored key (e.g. after moving to Entra ID)"
    )
    # Not the model field: model validation would reject a second default before the
    # service gets to unmark the previous one, so the switch is left to the service.
    make_default = forms.BooleanField(
        required=False, label="Default", help_text=Deployment._meta.get_field("is_default").help_text
    )

    class Meta:
        model = Deployment
        fields = ["tenant", *DEPLOYMENT_SETTINGS]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["make_default"].initial = self.instance.is_default

    def clean(self) -> dict:
        cleaned = super().clean()
        keeps_key = self.instance.has_api_key and not cleaned.get("clear_api_key")
        if cleaned.get("auth_kind") == AuthKind.API_KEY and not (cleaned.get("api_key") or keeps_key):
            self.add_error("api_key", "An api-key deployment needs a key.")
        return cleaned


@admin.register(Deployment)
class DeploymentAdmin(ServiceWritesAdmin):
    form = DeploymentForm
    list_display = ["name", "tenant", "endpoint", "deployment", "api_style", "auth_kind", "has_key", "is_default"]
    list_filter = ["tenant", "api_style", "auth_kind", "is_default"]
    search_fields = ["name", "deployment", "endpoint", "tenant__slug"]
    readonly_fields = ["has_key", "created_at", "updated_at"]

    @admin.display(boolean=True, description="API key stored")
    def has_key(self, obj: Deployment) -> bool:
        return obj.has_api_key

    def save_model(self, request, obj: Deployment, form: DeploymentForm, change: bool) -> None:
        # The admin is one more entry point to the same service as code and API.
        obj.is_default = form.cleaned_data["make_default"]
        deployment_save(
            deployment=obj,
            api_key=form.cleaned_data.get("api_key") or None,
            clear_api_key=bool(form.cleaned_data.get("clear_api_key")),
            actor=Actor.for_user(request.user),
            origin=RequestOrigin.of(request),
        )

    def delete_model(self, request, obj: Deployment) -> None:
        deployment_delete(deployment=obj, actor=Actor.for_user(request.user), origin=RequestOrigin.of(request))

    def delete_queryset(self, request, queryset) -> None:
        # One service call (and one audit event) per deployment, as the single delete.
        for deployment in queryset:
            self.delete_model(request, deployment)


def moment_in_zone(value: datetime, zone_name: str | None) -> str:
    """A moment in a tenant's time zone, labelled with the zone ("2026-12-07 14:05 Europe/Berlin"): the staff
    UI's one way of showing a time (the `tenant_time` template filter says it through this)."""
    try:
        zone = ZoneInfo(zone_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return f"{timezone.localtime(value, zone):%Y-%m-%d %H:%M} {zone.key}"


@admin.register(Job)
class JobAdmin(TenantScopedAdmin):
    """Jobs are created on the generate page (job_submit), never through a model form."""

    scopes = {"view": Scope.JOBS_READ, "add": None, "change": None, "delete": None}
    change_list_template = "admin/generation/job/change_list.html"
    list_display = [
        "job_number",
        "state_badge",
        "short_prompt",
        "locale_list",
        "placement_list",
        "outputs",
        "submitted",
    ]
    list_display_links = ["job_number", "short_prompt"]
    list_filter = ["state", "kind"]
    search_fields = ["prompt"]
    list_per_page = 50

    def scoped_queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        stored = Count("generations", filter=Q(generations__state=GenerationState.STORED), distinct=True)
        return queryset.select_related("requested_by", "tenant").annotate(
            units=Count("generations", distinct=True), units_stored=stored
        )

    @admin.display(description="Job", ordering="id")
    def job_number(self, job: Job) -> str:
        return f"#{job.pk}"

    @admin.display(description="State", ordering="state")
    def state_badge(self, job: Job) -> str:
        return format_html('<span class="ui-badge ui-state-{}">{}</span>', job.state, job.get_state_display())

    @admin.display(description="Prompt")
    def short_prompt(self, job: Job) -> str:
        return Truncator(job.prompt).chars(80)

    @admin.display(description="Locales")
    def locale_list(self, job: Job) -> str:
        return format_html_join(" ", '<span class="ui-chip">{}</span>', ((code,) for code in job.locales)) or "—"

    @admin.display(description="Placements")
    def placement_list(self, job: Job) -> str:
        slugs = ((p["slug"],) for p in job.placements)
        return format_html_join(" ", '<span class="ui-chip ui-chip-muted">{}</span>', slugs) or "—"

    @admin.display(description="Submitted", ordering="created_at")
    def submitted(self, job: Job) -> str:
        return moment_in_zone(job.created_at, job.tenant.time_zone)

    @admin.display(description="Progress")
    def outputs(self, job: Job) -> str:
        return f"{job.units_stored}/{job.units}"

    def get_urls(self):
        view = self.admin_site.admin_view

        def bound(function):
            return view(partial(function, self))

        return [
            path("generate/", bound(admin_views.generate_view), name="generation_job_generate"),
            path("generate/plan/", bound(admin_views.plan_view), name="generation_job_plan"),
            path("<int:job_id>/progress/", bound(admin_views.progress_view), name="generation_job_progress"),
            path("<int:job_id>/cancel/", bound(admin_views.cancel_view), name="generation_job_cancel"),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        return admin_views.job_page(self, request, object_id)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        context = admin_tenant_context(request)
        extra = {"can_generate": context.can(Scope.JOBS_WRITE) and context.tenant is not None}
        return super().changelist_view(request, extra_context={**extra, **(extra_context or {})})
