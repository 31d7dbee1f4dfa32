"""OpenAPI 3 (drf-spectacular): API-key auth, and each operation's scope and errors from the view.

Views declare `required_scopes` once (tenants.api.base); this schema class reads the same
table, so the documentation cannot drift from what the permission check enforces.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from rest_framework.generics import GenericAPIView

from config.openapi_operations import operation_errors
from tenants.api.problems import PROBLEM_CONTENT_TYPE, ProblemDetailSerializer, problem_body

# Every error under /api/ is one RFC 9457 problem document (tenants.api.problems); these are the
# answers any operation can give, whatever its view: the rest come from `operation_errors`.
COMMON_ERRORS: dict[int, str] = {
    400: "Invalid input: `errors` names each field (query parameter, body field) and the rule it broke",
    401: "Missing, invalid, revoked or expired API key, and no signed-in session",
    403: "The key or role lacks the operation's scope, the tenant is suspended, or a session's CSRF check failed",
    404: "Not found, another tenant's object (never distinguished), or an unknown `X-Tenant`",
    406: "The `Accept` header asks for a type other than JSON",
}
BODY_ERRORS: dict[int, str] = {
    413: "The request body is larger than the limit",
    415: "The request body's content type is not one the operation accepts",
}
ERROR_EXAMPLES: dict[int, tuple[str | None, str, str]] = {
    400: ("name", "required", "This field is required."),
    401: (None, "authentication_failed", "API key revoked"),
    402: (None, "budget_exceeded", "the job's estimate exceeds what is left of this month's budget"),
    403: (None, "permission_denied", "this action needs the 'admin' scope"),
    404: (None, "not_found", "No Asset matches the given query."),
    409: (None, "conflict", "the object changed meanwhile"),
    422: ("prompt", "safety_blocked", "blocked by the safety configuration"),
    503: ("moderation", "moderation_unavailable", "content moderation is unavailable (try again shortly)"),
}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# A signed-in member of several tenants names the one they act in (tenants.api.base.resolve_tenant_context);
# an API key belongs to one tenant and the header is ignored for it.
TENANT_HEADER_PARAMETER: dict[str, Any] = {
    "in": "header",
    "name": "X-Tenant",
    "required": False,
    "description": "Staff sessions only: the slug of the tenant to act in, when the user belongs to several "
    "(ignored for API keys). An unknown slug or one the user is not a member of is a 404.",
    "schema": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$", "maxLength": 63},
}


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.api.authentication.ApiKeyAuthentication"
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
    from tenants.api.base import TenantContext
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
        if getattr(self.view, "public_operation", False):
            # Anyone may call it (the public verifier): no key, no tenant, so no X-Tenant either.
            operation["x-required-scope"] = None
            note = "**Scope:** none: public, no authentication"
            operation["description"] = f"{operation.get('description', '')}\n\n{note}".strip()
        elif declared:
            note = f"**Scope:** `{scope}`" if scope else "**Scope:** any key or member of the tenant"
            operation["x-required-scope"] = scope
            operation["description"] = f"{operation.get('description', '')}\n\n{note}".strip()
            operation.setdefault("parameters", []).append(TENANT_HEADER_PARAMETER)
        self._add_problem_responses(operation, method)
        return operation

    def _add_problem_responses(self, operation: dict[str, Any], method: str) -> None:
        """Each error status the operation can answer, all as the one problem-details document."""
        responses = operation.setdefault("responses", {})
        codes = dict(COMMON_ERRORS)
        if "requestBody" in operation or method in WRITE_METHODS - {"DELETE"}:
            codes.update(BODY_ERRORS)
        codes.update(operation_errors(operation["operationId"]))
        for code, description in codes.items():
            responses.setdefault(str(code), {"description": description})
        problem = self.resolve_serializer(ProblemDetailSerializer, "response").ref
        for code, response in responses.items():
            if not code.startswith(("4", "5")):
                continue
            field, rule, message = ERROR_EXAMPLES.get(int(code), (None, "error", response["description"]))
            example = problem_body(status=int(code), errors=[{"field": field, "code": rule, "message": message}])
            response["content"] = {PROBLEM_CONTENT_TYPE: {"schema": problem, "example": example}}
