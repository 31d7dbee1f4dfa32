"""The base every tenant API view stands on.

The tenant is resolved once per request (from the API key, or for a signed-in staff
member from the `X-Tenant` header among their memberships) and views only ever see
querysets scoped to it: subclasses implement `scoped_queryset(tenant)` and may not
override `get_queryset` or set `queryset` (PostHog's routing.py does the same).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from rest_framework import exceptions, metadata, mixins, permissions, viewsets
from rest_framework.request import Request
from rest_framework.views import APIView

from tenants.api.authentication import ApiKeyPrincipal
from tenants.api.problems import problem_exception_handler
from tenants.audit import Actor
from tenants.models import ApiKey, Scope, Tenant

TENANT_HEADER = "HTTP_X_TENANT"
# Any of these marks an actor of the brand's own team, who may see work in progress.
INTERNAL_SCOPES = frozenset({Scope.ASSETS_WRITE, Scope.JOBS_READ, Scope.JOBS_WRITE, Scope.REVIEWS_WRITE, Scope.ADMIN})


@dataclass(frozen=True)
class TenantContext:
    tenant: Tenant
    scopes: frozenset[str]
    api_key: ApiKey | None
    user: Any | None  # a Django user when a person acts, None for API keys

    @property
    def is_storefront(self) -> bool:
        """Only `assets:read`: a storefront or CMS, which sees approved and published versions only."""
        return not (self.scopes & INTERNAL_SCOPES)

    @property
    def actor_label(self) -> str:
        return Actor.of(user=self.user, api_key=self.api_key).label


def resolve_tenant_context(request: Request) -> TenantContext:
    principal = request.user
    if isinstance(principal, ApiKeyPrincipal):
        api_key = principal.api_key
        return TenantContext(tenant=api_key.tenant, scopes=frozenset(api_key.scopes), api_key=api_key, user=None)
    if principal is None or not principal.is_authenticated:
        raise exceptions.NotAuthenticated()
    slug = request.META.get(TENANT_HEADER) or request.query_params.get("tenant") or request.session.get("tenant")
    if principal.is_superuser:
        if not slug:
            raise exceptions.ValidationError({"X-Tenant": "superusers must name the tenant (X-Tenant header)"})
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise exceptions.NotFound(f"tenant {slug!r} not found")
        return TenantContext(tenant=tenant, scopes=frozenset(Scope.values), api_key=None, user=principal)
    memberships = list(principal.memberships.select_related("tenant"))
    if slug:
        memberships = [m for m in memberships if m.tenant.slug == slug]
        if not memberships:
            # Not a member and not existing look the same from outside.
            raise exceptions.NotFound(f"tenant {slug!r} not found")
    elif len(memberships) != 1:
        raise exceptions.ValidationError(
            {
                "X-Tenant": "name the tenant with the X-Tenant header: you are a member of several tenants"
                if memberships
                else "you are not a member of any tenant"
            }
        )
    membership = memberships[0]
    if not membership.tenant.is_active:
        raise exceptions.PermissionDenied(f"tenant {membership.tenant.slug!r} is suspended")
    return TenantContext(tenant=membership.tenant, scopes=membership.scopes, api_key=None, user=principal)


class HasRequiredScope(permissions.BasePermission):
    """Checks the view's `required_scopes` (per action, or per HTTP method) against the request's scopes."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        required = view.required_scope_for(request)
        context: TenantContext = request.tenant_context
        if required is None or required in context.scopes:
            return True
        self.message = f"this action needs the '{required}' scope"
        return False


class EndpointMetadata(metadata.SimpleMetadata):
    """`OPTIONS`: name, description and media types; no serializer walk (which could fail or need a scope)."""

    def determine_metadata(self, request: Request, view: APIView) -> dict[str, Any]:
        return {
            "name": view.get_view_name(),
            "description": view.get_view_description(),
            "renders": [renderer.media_type for renderer in view.renderer_classes],
            "parses": [parser.media_type for parser in view.parser_classes],
        }


class TenantScopedMixin:
    permission_classes = [permissions.IsAuthenticated, HasRequiredScope]
    metadata_class = EndpointMetadata
    # "action:METHOD", action name or HTTP method -> scope, most specific first; "*" is the
    # fallback. None means any authenticated actor of the tenant.
    required_scopes: dict[str, str | None] = {}

    def perform_authentication(self, request: Request) -> None:
        super().perform_authentication(request)
        # Resolved exactly once, before permissions: every later step reads this context.
        if request.user is not None and request.user.is_authenticated:
            request.tenant_context = resolve_tenant_context(request)

    def required_scope_for(self, request: Request) -> str | None:
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            # Said before any scope is looked up: a method the endpoint lacks is a 405 with `Allow`, for anyone.
            raise exceptions.MethodNotAllowed(request.method)
        if request.method == "OPTIONS":
            return None  # EndpointMetadata names the endpoint and its media types, nothing of the tenant's
        action = getattr(self, "action", None)
        for key in (f"{action}:{request.method}", action, request.method, "*"):
            if key in self.required_scopes:
                return self.required_scopes[key]
        raise exceptions.PermissionDenied("no scope is declared for this action")

    @property
    def tenant(self) -> Tenant:
        return self.request.tenant_context.tenant


class TenantScopedAPIView(TenantScopedMixin, APIView):
    pass


class TenantScopedViewSet(TenantScopedMixin, viewsets.GenericViewSet):
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__ or cls.__dict__.get("queryset") is not None:
            raise TypeError(f"{cls.__name__}: implement scoped_queryset(tenant), not get_queryset/queryset")

    def scoped_queryset(self, tenant: Tenant) -> QuerySet:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet:
        return self.scoped_queryset(self.tenant)


def api_exception_handler(exc: Exception, context: dict[str, Any]):
    """Every API error as RFC 9457 problem details (`tenants.api.problems`), services' errors included."""
    return problem_exception_handler(exc, context)


class TenantScopedReadViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """A tenant's objects, listed and read one by one."""


class TenantScopedModelViewSet(
    mixins.CreateModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin, TenantScopedReadViewSet
):
    """A tenant's objects, listed, read, created, changed and deleted (each write through its service)."""
