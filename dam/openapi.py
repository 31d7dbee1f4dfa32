"""OpenAPI 3 (drf-spectacular): API-key auth, and each operation's scope and errors from the view.

Views declare `required_scopes` once (tenants.api_base); this schema class reads the same
table, so the documentation cannot drift from what the permission check enforces.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from rest_framework.generics import GenericAPIView

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}
ERRORS: dict[str, tuple[str, dict[str, Any]]] = {
    "400": ("Invalid input: the body names each field and the rule", {"scopes": ["unknown scope(s): x"]}),
    "401": ("Missing, invalid, revoked or expired API key", {"detail": "API key revoked"}),
    "403": ("The key lacks the scope, or the tenant is suspended", {"detail": "this action needs the 'admin' scope"}),
    "404": (
        "Not found, or another tenant's object (never distinguished)",
        {"detail": "No Asset matches the given query."},
    ),
}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "dam_<prefix>_<secret>",
            "description": "A tenant API key; its scopes decide which operations it may call.",
        }


def required_scope(view: Any, method: str) -> tuple[bool, str | None]:
    """(declared, scope) as `TenantScopedMixin.required_scope_for` would decide it."""
    table = getattr(view, "required_scopes", None)
    if table is None:
        return False, None
    action = getattr(view, "action", None)
    for key in (f"{action}:{method}", action, method, "*"):
        if key in table:
            return True, table[key]
    return False, None


def _schema_tenant_context() -> Any:
    from tenants.api_base import TenantContext
    from tenants.models import Tenant

    # An unsaved tenant: views build their (lazy) scoped querysets, so path parameters get
    # their model's type, and nothing touches the database.
    return TenantContext(tenant=Tenant(pk=0, slug="schema"), scopes=frozenset(), api_key=None, user=None)


class ScopedAutoSchema(AutoSchema):
    def _get_serializer(self) -> Any:
        view = self.view
        plain = not isinstance(view, GenericAPIView) and not hasattr(view, "get_serializer_class")
        if plain and getattr(view, "serializer_class", None) is None:
            # A plain APIView rendering its own dict: a free-form JSON object, unless the
            # view says more with @extend_schema (which takes precedence over this).
            return OpenApiTypes.OBJECT
        return super()._get_serializer()

    def get_operation(self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any) -> Any:
        request = getattr(self.view, "request", None)
        if request is not None and not hasattr(request, "tenant_context"):
            request.tenant_context = _schema_tenant_context()
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        declared, scope = required_scope(self.view, method)
        if declared:
            note = f"**Scope:** `{scope}`" if scope else "**Scope:** any key or member of the tenant"
            operation["x-required-scope"] = scope
            operation["description"] = f"{operation.get('description', '')}\n\n{note}".strip()
        responses = operation.setdefault("responses", {})
        codes = ["401", "403"]
        if "{" in path:
            codes.append("404")
        if method in WRITE_METHODS or self._is_list_view():
            codes.append("400")
        for code in codes:
            if code in responses:
                continue
            description, example = ERRORS[code]
            responses[code] = {
                "description": description,
                "content": {"application/json": {"schema": ERROR_SCHEMA, "example": example}},
            }
        return operation
