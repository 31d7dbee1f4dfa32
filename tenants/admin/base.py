"""The tenant-aware base of the staff UI (the Django admin).

A staff member works in one tenant at a time, chosen with the tenant switcher and kept in
the session under "tenant" (the same key the session-authenticated API reads). What they may
do follows their role in that tenant (`ROLE_SCOPES`); superusers may act in any tenant and may
also look across all of them (no tenant in the session).

Model admins of tenant-owned rows derive from `TenantScopedAdmin`: it alone builds their
querysets (subclasses may not override `get_queryset`, as API views may not), it scopes foreign
key choices to the tenant, maps the admin's view/add/change/delete permissions to scopes, and
refuses the stock `model.save()`/`delete()` paths: writes go through the services.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib import admin
from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpRequest

from tenants.errors import ServiceError
from tenants.models import ROLE_SCOPES, Role, Scope, Tenant
from tenants.scoping import TenantOwnedModel

SESSION_TENANT_KEY = "tenant"
# A superuser who chose "All tenants" (without it, a superuser who is also a member starts in
# their first tenant, as anyone else does).
SESSION_ALL_TENANTS_KEY = "tenant_all"
_CACHE_ATTRIBUTE = "_admin_tenant_context"


@dataclass(frozen=True)
class AdminTenantContext:
    """Who is acting in which tenant, with which scopes; resolved once per request."""

    tenant: Tenant | None  # None: no tenant (not a member anywhere) or a superuser across all tenants
    role: str | None  # the membership role; None for superusers and outsiders
    scopes: frozenset[str]
    is_superuser: bool = False
    tenants: tuple[Tenant, ...] = field(default_factory=tuple)  # the switcher's choices

    @property
    def all_tenants(self) -> bool:
        """A superuser looking across every tenant (read views list rows of all tenants)."""
        return self.is_superuser and self.tenant is None

    @property
    def role_label(self) -> str:
        if self.is_superuser:
            return "Superuser"
        return Role(self.role).label if self.role else "No access"

    def can(self, scope: str | None) -> bool:
        return scope is not None and scope in self.scopes

    def sees_tenant(self, tenant_id: int) -> bool:
        """Whether rows of this tenant may be shown in the current view."""
        return self.all_tenants or (self.tenant is not None and self.tenant.pk == tenant_id)


def admin_tenant_context(request: HttpRequest) -> AdminTenantContext:
    cached = getattr(request, _CACHE_ATTRIBUTE, None)
    if cached is None:
        cached = _resolve(request)
        setattr(request, _CACHE_ATTRIBUTE, cached)
    return cached


def _resolve(request: HttpRequest) -> AdminTenantContext:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active:
        return AdminTenantContext(tenant=None, role=None, scopes=frozenset())
    slug = request.session.get(SESSION_TENANT_KEY)
    if user.is_superuser:
        tenants = tuple(Tenant.objects.order_by("name"))
        tenant = next((t for t in tenants if t.slug == slug), None)
        if slug and tenant is None:
            request.session.pop(SESSION_TENANT_KEY, None)
        if tenant is None and not request.session.get(SESSION_ALL_TENANTS_KEY):
            own = user.memberships.select_related("tenant").order_by("tenant__name").first()
            if own is not None:
                tenant = own.tenant
                request.session[SESSION_TENANT_KEY] = tenant.slug
        return AdminTenantContext(
            tenant=tenant, role=None, scopes=frozenset(Scope.values), is_superuser=True, tenants=tenants
        )
    memberships = sorted(user.memberships.select_related("tenant"), key=lambda m: m.tenant.name.lower())
    if not memberships:
        request.session.pop(SESSION_TENANT_KEY, None)
        return AdminTenantContext(tenant=None, role=None, scopes=frozenset())
    membership = next((m for m in memberships if m.tenant.slug == slug), None)
    if membership is None:
        # No choice yet, or the member lost access to the tenant named: fall back to the first.
        membership = memberships[0]
        request.session[SESSION_TENANT_KEY] = membership.tenant.slug
    # A suspended tenant is frozen for its staff, as the API freezes it for every key.
    scopes = ROLE_SCOPES[membership.role] if membership.tenant.is_active else frozenset()
    return AdminTenantContext(
        tenant=membership.tenant,
        role=membership.role,
        scopes=frozenset(scopes),
        tenants=tuple(m.tenant for m in memberships),
    )


def tenant_switch(request: HttpRequest, *, slug: str) -> AdminTenantContext:
    """Make `slug` the session's tenant (empty: all tenants, superusers only); returns the new context.

    Raises PermissionDenied for a tenant the user may not enter, leaving the session as it was.
    """
    current = admin_tenant_context(request)
    if not slug:
        if not current.is_superuser:
            raise PermissionDenied("choose one of your tenants")
        request.session.pop(SESSION_TENANT_KEY, None)
        request.session[SESSION_ALL_TENANTS_KEY] = True
    elif not any(t.slug == slug for t in current.tenants):
        raise PermissionDenied("you are not a member of that tenant")
    else:
        request.session[SESSION_TENANT_KEY] = slug
        request.session.pop(SESSION_ALL_TENANTS_KEY, None)
    setattr(request, _CACHE_ATTRIBUTE, None)
    return admin_tenant_context(request)


def require_scope(request: HttpRequest, scope: str) -> AdminTenantContext:
    """The check at the top of every custom admin view: 403 unless the role grants `scope`."""
    context = admin_tenant_context(request)
    if not context.can(scope):
        raise PermissionDenied(f"this page needs the '{scope}' permission in the current tenant")
    return context


class ServiceWritesAdmin(admin.ModelAdmin):
    """A model admin whose save_model/delete_model call services: a service's refusal is a form error.

    A service validates (the same rules as the API) and raises `ValidationError` or `ServiceError`
    from inside the admin's transaction, which rolls back. The page is then built again from the
    same POST with the refusal added to the form, so the staff member sees the API's message on
    the field it names instead of a server error.
    """

    def changeform_view(self, request: HttpRequest, object_id=None, form_url: str = "", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (ValidationError, ServiceError) as refusal:
            if request.method != "POST":
                raise
            setattr(request, _REFUSAL_ATTRIBUTE, refusal)
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request: HttpRequest, obj: models.Model | None = None, change: bool = False, **kwargs: Any):
        form = super().get_form(request, obj, change=change, **kwargs)
        refusal = getattr(request, _REFUSAL_ATTRIBUTE, None)
        if refusal is None:
            return form

        class RefusedForm(form):
            def clean(self) -> dict:
                cleaned = super().clean()
                for name, messages in _refusal_messages(refusal).items():
                    self.add_error(name if name in self.fields else None, messages)
                return cleaned

        return RefusedForm


_REFUSAL_ATTRIBUTE = "_admin_service_refusal"


def _refusal_messages(refusal: ValidationError | ServiceError) -> dict[str, list[str]]:
    if isinstance(refusal, ServiceError):
        return {refusal.field: [refusal.message]}
    if hasattr(refusal, "error_dict"):
        return {name: [m for e in errors for m in e.messages] for name, errors in refusal.error_dict.items()}
    return {"non_field_errors": refusal.messages}


class TenantScopedAdmin(ServiceWritesAdmin):
    """Base of every model admin over tenant-owned rows.

    Permissions: `scopes` maps "view", "add", "change" and "delete" to the scope the role needs
    in the current tenant; None means the action is not offered in the admin at all. Writes:
    override `save_model` / `delete_model` with a call to the service.
    """

    scopes: dict[str, str | None] = {"view": Scope.ASSETS_READ, "add": None, "change": None, "delete": None}
    tenant_field = "tenant"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise TypeError(f"{cls.__name__}: refine rows in scoped_queryset(request, queryset), not get_queryset")

    # --- rows -----------------------------------------------------------------------------
    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        context = admin_tenant_context(request)
        # The one place the admin reads tenant-owned rows: the default manager is the unscoped
        # one (Django internals need it), so the tenant filter below is what keeps tenants apart.
        rows = super().get_queryset(request)
        if not context.all_tenants:
            rows = rows.filter(**{self.tenant_field: context.tenant}) if context.tenant else rows.none()
        return self.scoped_queryset(request, rows)

    def scoped_queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        """Refine the already tenant-scoped rows (select_related, annotations)."""
        return queryset

    def get_list_display(self, request: HttpRequest):
        columns = list(super().get_list_display(request))
        if admin_tenant_context(request).all_tenants and self.tenant_field not in columns:
            columns.append(self.tenant_field)
        return columns

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs: Any):
        related = db_field.related_model
        context = admin_tenant_context(request)
        if related is Tenant and not context.all_tenants:
            kwargs["queryset"] = Tenant.objects.filter(pk=context.tenant.pk if context.tenant else None)
        elif isinstance(related, type) and issubclass(related, TenantOwnedModel):
            kwargs["queryset"] = _scoped_choices(related, context)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request: HttpRequest, **kwargs: Any):
        related = db_field.related_model
        if isinstance(related, type) and issubclass(related, TenantOwnedModel):
            kwargs["queryset"] = _scoped_choices(related, admin_tenant_context(request))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    # --- permissions ----------------------------------------------------------------------
    def _allows(self, request: HttpRequest, action: str, obj: models.Model | None) -> bool:
        context = admin_tenant_context(request)
        if not context.can(self.scopes.get(action)):
            return False
        return obj is None or context.sees_tenant(getattr(obj, f"{self.tenant_field}_id"))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allows(request, "view", None)

    def has_view_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self._allows(request, "view", obj) or self.has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Adding needs one tenant to add to: never in the superuser's all-tenants view.
        context = admin_tenant_context(request)
        return context.tenant is not None and self._allows(request, "add", None)

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self._allows(request, "change", obj)

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self._allows(request, "delete", obj)

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        # Bulk deletion would bypass the services (and their audit events).
        actions.pop("delete_selected", None)
        return actions

    # --- writes go through services -------------------------------------------------------
    def save_model(self, request: HttpRequest, obj: models.Model, form, change: bool) -> None:
        raise NotImplementedError(f"{type(self).__name__}.save_model must call a service")

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        raise NotImplementedError(f"{type(self).__name__}.delete_model must call a service")

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not delete in bulk")


def _scoped_choices(model: type[TenantOwnedModel], context: AdminTenantContext) -> models.QuerySet:
    if context.all_tenants:
        return model.unscoped.all()
    if context.tenant is None:
        return model.unscoped.none()
    return model.objects.for_tenant(context.tenant)


def page_context(site: AdminSite, request: HttpRequest, **context: Any) -> dict[str, Any]:
    """The context of a custom staff page: the site's (nav, tenant switcher) plus the page's own."""
    request.current_app = site.name
    return {**site.each_context(request), **context}
