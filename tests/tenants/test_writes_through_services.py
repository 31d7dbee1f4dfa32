"""Every write of the staff UI and of the API goes through a service that writes an audit event.

The guard walks the code: for each entry point that can write (an admin's save_model,
delete_model, delete_queryset and actions, a custom admin view that takes POST, an API view's
POST/PUT/PATCH/DELETE handler) it follows the calls into the project's own functions and asserts
that (1) the path reaches `tenants.audit.audit` and (2) the entry point itself writes no row
(`.save()`, `.delete()`, `.create()`, a queryset `.update()`...): the row and its audit event are
the service's business, in one transaction. An admin that cannot write (the permission is never
granted, not even to a superuser) is read-only and needs no service.

A new entry point that writes without a service, or a service that stops auditing, fails here.
Entry points that take POST but write nothing are listed in `WRITES_NOTHING`, with the reason.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import textwrap
from collections.abc import Callable, Iterator
from types import FunctionType, ModuleType
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver

from tenants import audit as audit_module
from tenants.admin.base import SESSION_TENANT_KEY

OUR_APPS = ("config", "ui", "dam", "generation", "governance", "tenants")
WRITE_METHODS = ("post", "put", "patch", "delete")
# Calls that write a row when made in an entry point's own body.
ROW_WRITES = {"save", "delete", "create", "get_or_create", "update_or_create", "bulk_create", "bulk_update"}

# Entry points that take POST yet change no row, and why.
WRITES_NOTHING = {
    "generation.api.jobs.JobViewSet.plan": "plans a job (sizes, cost, checks) without submitting it",
    "generation.api.estimates.CostEstimateView.post": "prices a request; the estimate is not stored",
    "generation.admin.views.plan_view": "the generate page's live plan, nothing stored",
    "generation.admin.estimator.estimator_view": "the cost estimator page, nothing stored",
    "ui.site.DamAdminSite.switch_tenant": "changes the staff member's session, not a row",
    "dam.api.credentials.VerifyView.post": "reads an uploaded file's Content Credentials; nothing is stored",
}


def _ours(obj: Any) -> bool:
    return (getattr(obj, "__module__", None) or "").split(".")[0] in OUR_APPS


def _unwrap(obj: Any) -> Any:
    while True:
        if isinstance(obj, functools.partial):
            obj = obj.func
        elif inspect.ismethod(obj):
            obj = obj.__func__
        elif hasattr(obj, "__wrapped__"):
            obj = obj.__wrapped__
        else:
            return obj


def _tree(function: FunctionType) -> ast.AST | None:
    try:
        return ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return None


def _local_imports(tree: ast.AST) -> dict[str, Any]:
    """Names a function imports in its body (`from x import y` inside a def)."""
    names: dict[str, Any] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            module = importlib.import_module(node.module)
            for alias in node.names:
                target = getattr(module, alias.name, None)
                if target is None:
                    target = importlib.import_module(f"{node.module}.{alias.name}")
                names[alias.asname or alias.name] = target
    return names


def _resolve(expr: ast.expr, scope: dict[str, Any], owner: type | None) -> Any:
    if isinstance(expr, ast.Name):
        return scope.get(expr.id)
    if isinstance(expr, ast.Attribute):
        if isinstance(expr.value, ast.Name) and expr.value.id in {"self", "cls"} and owner is not None:
            return inspect.getattr_static(owner, expr.attr, None)
        base = _resolve(expr.value, scope, owner)
        if isinstance(base, (ModuleType, type)):
            return getattr(base, expr.attr, None)
    return None


def _callees(function: FunctionType, owner: type | None) -> Iterator[Any]:
    tree = _tree(function)
    if tree is None:
        return
    closure = inspect.getclosurevars(function)
    scope = {**function.__globals__, **closure.nonlocals, **_local_imports(tree)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            target = _resolve(node.func, scope, owner)
            if isinstance(target, (staticmethod, classmethod)):
                target = target.__func__
            if target is not None:
                yield target


def reaches_audit(entry: Callable, *, owner: type | None = None, depth: int = 10) -> bool:
    """Whether a call path from `entry` through the project's code reaches `tenants.audit.audit`."""
    seen: set[int] = set()

    def walk(function: Any, owner: type | None, depth: int, entry: bool = False) -> bool:
        function = _unwrap(function)
        if function is audit_module.audit:
            return True
        if isinstance(function, type):  # a class called: its __init__ may write (rare); follow it
            owner, function = function, function.__init__
        if depth < 0 or id(function) in seen or not isinstance(function, FunctionType):
            return False
        if not (entry or _ours(function)):
            return False
        seen.add(id(function))
        return any(walk(callee, owner, depth - 1) for callee in _callees(function, owner))

    return walk(entry, owner, depth, entry=True)


def own_row_writes(entry: Callable) -> list[str]:
    """Row writes made in the entry point's own body (not in what it calls)."""
    function = _unwrap(entry)
    tree = _tree(function)
    if tree is None:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ROW_WRITES:
            found.append(f"line {node.lineno}: .{node.func.attr}()")
        # A queryset update (`X.objects.filter(...).update(...)`), not a dict's .update(other).
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "update"
            and isinstance(node.func.value, ast.Call)
        ):
            found.append(f"line {node.lineno}: queryset .update()")
    return found


def _qualname(cls: type, name: str) -> str:
    return f"{cls.__module__}.{cls.__name__}.{name}"


# --- the entry points -------------------------------------------------------------------------
def _patterns(patterns, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def api_write_handlers() -> list[tuple[str, type, str]]:
    """(name, view class, method name) of every API handler of POST/PUT/PATCH/DELETE in our apps."""
    handlers = {}
    for _, callback in _patterns(get_resolver().url_patterns):
        view = getattr(callback, "cls", None)
        if view is None or not _ours(view):
            continue
        actions = getattr(callback, "actions", None) or {m: m for m in WRITE_METHODS if hasattr(view, m)}
        for method, action in actions.items():
            if method not in WRITE_METHODS or method not in view.http_method_names:
                continue
            # DRF's generic create/update/destroy delegate the write to perform_<x>.
            name = action
            if not _ours(_unwrap(inspect.getattr_static(view, action))):
                name = {"create": "perform_create", "update": "perform_update", "partial_update": "perform_update"}.get(
                    action, "perform_destroy"
                )
            handlers[_qualname(view, action)] = (view, name)
    return [(label, view, name) for label, (view, name) in sorted(handlers.items())]


def admin_post_views() -> list[tuple[str, Any, type | None]]:
    """Custom views of the staff UI (beside the ModelAdmins' stock pages) that handle POST."""
    views = {}
    for _, callback in _patterns(get_resolver().url_patterns):
        function = _unwrap(callback)
        if getattr(callback, "cls", None) is not None or not _ours(function):
            continue
        if not isinstance(function, FunctionType):
            continue
        source = inspect.getsource(function)
        if "POST" not in source and "require_POST" not in source and "require_http_methods" not in source:
            continue
        owner = None
        if "." in function.__qualname__:
            owner = getattr(inspect.getmodule(function), function.__qualname__.split(".")[0], None)
        views[f"{function.__module__}.{function.__qualname__}"] = (function, owner)
    return [(label, function, owner) for label, (function, owner) in sorted(views.items())]


def our_model_admins() -> list[admin.ModelAdmin]:
    sites = [admin.site]
    return [
        model_admin
        for site in sites
        for model, model_admin in site._registry.items()
        if model._meta.app_label in OUR_APPS
    ]


# --- the guards -------------------------------------------------------------------------------
API_HANDLERS = api_write_handlers()
ADMIN_POST_VIEWS = admin_post_views()


@pytest.mark.parametrize(("label", "view", "name"), API_HANDLERS, ids=[h[0] for h in API_HANDLERS])
def test_every_api_write_goes_through_an_audited_service(label, view, name):
    if label in WRITES_NOTHING:
        handler = inspect.getattr_static(view, name)
        assert not own_row_writes(handler), (
            f"{label} is listed as writing nothing but writes: {own_row_writes(handler)}"
        )
        return
    handler = inspect.getattr_static(view, name)
    assert _ours(_unwrap(handler)), f"{label}: DRF's stock {name} writes without a service"
    assert not own_row_writes(handler), f"{label} writes rows itself: {own_row_writes(handler)}"
    assert reaches_audit(handler, owner=view), f"{label} ({name}) calls no service that writes an audit event"


@pytest.mark.parametrize(("label", "function", "owner"), ADMIN_POST_VIEWS, ids=[v[0] for v in ADMIN_POST_VIEWS])
def test_every_custom_admin_view_writes_through_an_audited_service(label, function, owner):
    assert not own_row_writes(function), f"{label} writes rows itself: {own_row_writes(function)}"
    if label in WRITES_NOTHING:
        return
    assert reaches_audit(function, owner=owner), f"{label} calls no service that writes an audit event"


@pytest.fixture
def superuser_request(tenant_a):
    """A superuser working in tenant A: adding needs a tenant to add to."""
    user = get_user_model().objects.create_superuser("root-guard", "root@example.com", "x")
    request = RequestFactory().get("/admin/")
    request.user = user
    request.session = SessionStore()
    request.session[SESSION_TENANT_KEY] = tenant_a.slug
    return request


@pytest.mark.parametrize("model_admin", our_model_admins(), ids=lambda a: type(a).__name__)
def test_every_model_admin_write_goes_through_an_audited_service(model_admin, superuser_request):
    """What even a superuser may do in a model admin (add, change, delete, actions) calls a service."""
    request, cls = superuser_request, type(model_admin)
    writes = {
        "save_model": model_admin.has_add_permission(request) or model_admin.has_change_permission(request),
        "delete_model": model_admin.has_delete_permission(request),
    }
    actions = model_admin.get_actions(request)
    writes["delete_queryset"] = "delete_selected" in actions
    for name, allowed in writes.items():
        if not allowed:
            continue
        method = inspect.getattr_static(cls, name)
        assert _ours(_unwrap(method)), f"{cls.__name__}.{name} is Django's: it writes without a service"
        assert not own_row_writes(method), f"{cls.__name__}.{name} writes rows itself: {own_row_writes(method)}"
        assert reaches_audit(method, owner=cls), f"{cls.__name__}.{name} calls no service that writes an audit event"
    for action_name, (function, *_rest) in actions.items():
        if action_name == "delete_selected":
            continue
        assert not own_row_writes(function), f"{cls.__name__} action {action_name} writes rows itself"
        assert reaches_audit(function, owner=cls), f"{cls.__name__} action {action_name} calls no audited service"


def test_the_guard_sees_the_entry_points_and_fails_on_an_unaudited_write():
    """The guard itself: it finds the known entry points, and a write that skips the audit fails it."""
    labels = {label for label, *_ in api_write_handlers()}
    assert "dam.api.library.CollectionViewSet.create" in labels
    assert "dam.api.review.VersionApproveView.post" in labels
    admin_views = {label for label, *_ in admin_post_views()}
    assert "dam.admin.review.review_decide_view" in admin_views
    assert set(WRITES_NOTHING) <= labels | admin_views, "an entry in WRITES_NOTHING no longer exists"

    from dam.services.assets import collection_get_or_create
    from dam.services.metadata import collection_create

    def audited(tenant):
        return collection_create(tenant=tenant, slug="x")

    def unaudited(tenant):
        return collection_get_or_create(tenant=tenant, slug="x")

    def writes_itself(obj):
        obj.save()

    assert reaches_audit(audited)
    assert not reaches_audit(unaudited)
    assert own_row_writes(writes_itself)
