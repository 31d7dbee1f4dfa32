"""Tenants, members, API keys, placements and brand policy versions in the staff UI.

Every write calls the service the API calls (`tenants.services`); what a staff member may do
follows their role in the current tenant (see tenants.admin.base).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from tenants.admin.base import TenantScopedAdmin, admin_tenant_context
from tenants.audit import Actor, RequestOrigin
from tenants.models import ApiKey, BrandPolicy, Membership, Placement, Role, Scope, Tenant
from tenants.services import (
    api_key_create,
    api_key_revoke,
    membership_set,
    placement_archive,
    placement_create,
    placement_update,
    tenant_create,
    tenant_set_status,
)


def _by(request: HttpRequest) -> dict[str, Any]:
    """Who acts, for the audit event each service writes: the signed-in staff member."""
    return {"actor": Actor.for_user(request.user), "origin": RequestOrigin.of(request)}


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    """Operating the platform's tenants is for superusers; tenant staff never list other tenants."""

    list_display = ["name", "slug", "status", "time_zone", "created_at"]
    list_filter = ["status"]
    search_fields = ["slug", "name"]

    def get_readonly_fields(self, request: HttpRequest, obj: Tenant | None = None) -> list[str]:
        # Only the status has a service for changes; slug, name and time zone are set at creation.
        return ["slug", "name", "time_zone", "created_at"] if obj else []

    def get_fields(self, request: HttpRequest, obj: Tenant | None = None) -> list[str]:
        return ["slug", "name", "time_zone", "status", "created_at"] if obj else ["slug", "name", "time_zone"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Tenant | None = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    has_add_permission = has_module_permission

    def has_change_permission(self, request: HttpRequest, obj: Tenant | None = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Tenant | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Tenant, form: forms.ModelForm, change: bool) -> None:
        if change:
            tenant_set_status(tenant=obj, status=form.cleaned_data["status"], **_by(request))
        else:
            created = tenant_create(slug=obj.slug, name=obj.name, time_zone=obj.time_zone, **_by(request))
            obj.pk = created.pk


class MembershipForm(forms.ModelForm):
    # A username, not a user picker: a picker would list every user of the platform.
    username = forms.CharField(max_length=150, help_text="The username of an existing staff account")

    class Meta:
        model = Membership
        fields = ["role"]

    def __init__(self, *args: Any, grants_owner: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.grants_owner = grants_owner
        if self.instance.pk:
            self.fields["username"].initial = self.instance.user.get_username()
            self.fields["username"].disabled = True

    def clean_username(self) -> Any:
        username = self.cleaned_data["username"]
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError("No active account with this username.")
        return user

    def clean(self) -> dict:
        cleaned = super().clean()
        touches_owner = cleaned.get("role") == Role.OWNER or self.initial.get("role") == Role.OWNER
        if touches_owner and not self.grants_owner:
            raise forms.ValidationError("Only an owner can grant or change the owner role.")
        return cleaned


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    scopes = {"view": Scope.ADMIN, "add": Scope.ADMIN, "change": Scope.ADMIN, "delete": None}
    form = MembershipForm
    list_display = ["user", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email"]

    def scoped_queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.select_related("user", "tenant")

    def get_fields(self, request: HttpRequest, obj: Membership | None = None) -> list[str]:
        return ["username", "role"]

    def get_form(self, request: HttpRequest, obj: Membership | None = None, change: bool = False, **kwargs: Any):
        context = admin_tenant_context(request)
        grants_owner = context.is_superuser or context.role == Role.OWNER
        base = super().get_form(request, obj, change=change, **kwargs)

        class BoundMembershipForm(base):
            def __init__(self, *args: Any, **inner: Any) -> None:
                super().__init__(*args, grants_owner=grants_owner, **inner)

        return BoundMembershipForm

    def save_model(self, request: HttpRequest, obj: Membership, form: MembershipForm, change: bool) -> None:
        tenant = obj.tenant if change else admin_tenant_context(request).tenant
        user = obj.user if change else form.cleaned_data["username"]
        saved = membership_set(tenant=tenant, user=user, role=form.cleaned_data["role"], **_by(request))
        obj.pk, obj.tenant_id, obj.user_id = saved.pk, saved.tenant_id, saved.user_id


class ApiKeyCreateForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "expires_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdmin):
    """Keys are issued here or by the API; the secret is shown once, on issue, and never stored."""

    scopes = {"view": Scope.ADMIN, "add": Scope.ADMIN, "change": None, "delete": None}
    list_display = ["name", "prefix", "scope_list", "expires_at", "revoked_at", "last_used_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix"]
    actions = ["revoke"]
    readonly_fields = [
        "name",
        "prefix",
        "scopes",
        "created_by",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]

    def get_form(self, request: HttpRequest, obj: ApiKey | None = None, change: bool = False, **kwargs: Any):
        if obj is None:
            kwargs["form"] = ApiKeyCreateForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        return self.readonly_fields if obj else []

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        return self.readonly_fields if obj else ["name", "scopes", "expires_at"]

    @admin.display(description="Scopes")
    def scope_list(self, key: ApiKey) -> str:
        return ", ".join(key.scopes)

    def save_model(self, request: HttpRequest, obj: ApiKey, form: ApiKeyCreateForm, change: bool) -> None:
        issued = api_key_create(
            tenant=admin_tenant_context(request).tenant,
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data.get("expires_at"),
            created_by=request.user,
            **_by(request),
        )
        obj.pk, obj.tenant_id = issued.api_key.pk, issued.api_key.tenant_id
        messages.warning(
            request,
            format_html("Copy the key now, it is not shown again: <code class='ui-secret'>{}</code>", issued.token),
        )

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return admin_tenant_context(request).can(Scope.ADMIN)

    @admin.action(description="Revoke the selected keys", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        for key in queryset:
            api_key_revoke(api_key=key, **_by(request))
        self.message_user(request, f"Revoked {queryset.count()} key(s).")


class PlacementForm(forms.ModelForm):
    class Meta:
        model = Placement
        fields = ["slug", "name", "width", "height", "output_format", "compression", "min_text_height"]
        labels = {"min_text_height": "Smallest copy height (px)"}

    tenant: Tenant | None = None

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        if (
            self.tenant
            and not self.instance.pk
            and Placement.objects.for_tenant(self.tenant).filter(slug=slug).exists()
        ):
            raise forms.ValidationError(f"a placement {slug!r} already exists")
        return slug


@admin.register(Placement)
class PlacementAdmin(TenantScopedAdmin):
    scopes = {"view": Scope.ASSETS_READ, "add": Scope.ADMIN, "change": Scope.ADMIN, "delete": None}
    form = PlacementForm
    list_display = ["slug", "name", "size", "output_format", "compression", "min_text_height", "archived"]
    list_filter = ["archived", "output_format"]
    search_fields = ["slug", "name"]
    actions = ["archive"]

    @admin.display(description="Size")
    def size(self, placement: Placement) -> str:
        return f"{placement.width} x {placement.height}"

    def get_readonly_fields(self, request: HttpRequest, obj: Placement | None = None) -> list[str]:
        return ["slug", "archived"] if obj else []

    def get_form(self, request: HttpRequest, obj: Placement | None = None, change: bool = False, **kwargs: Any):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.tenant = admin_tenant_context(request).tenant
        return form

    def save_model(self, request: HttpRequest, obj: Placement, form: PlacementForm, change: bool) -> None:
        names = ["name", "width", "height", "output_format", "compression", "min_text_height"]
        values = {name: form.cleaned_data[name] for name in names}
        if change:
            changed = {k: v for k, v in values.items() if k in form.changed_data}
            placement_update(placement=obj, **_by(request), **changed)
        else:
            tenant = admin_tenant_context(request).tenant
            created = placement_create(tenant=tenant, slug=obj.slug, **_by(request), **values)
            obj.pk, obj.tenant_id = created.pk, created.tenant_id

    @admin.action(description="Archive the selected placements", permissions=["change"])
    def archive(self, request: HttpRequest, queryset: QuerySet) -> None:
        for placement in queryset:
            placement_archive(placement=placement, **_by(request))
        self.message_user(request, f"Archived {queryset.count()} placement(s).")


@admin.register(BrandPolicy)
class BrandPolicyAdmin(TenantScopedAdmin):
    """Versions are read here; new versions come from the policy editor (brand_policy_update)."""

    scopes = {"view": Scope.ASSETS_READ, "add": None, "change": None, "delete": None}
    list_display = ["version", "default_quality", "default_output_format", "locales", "review_required", "created_at"]
    ordering = ["-version"]

    @admin.display(description="Default locales")
    def locales(self, policy: BrandPolicy) -> str:
        return ", ".join(policy.default_locales) or "—"
