"""A key no field declares is a 400 naming it, on every write endpoint (issue #15).

DRF dropped undeclared keys silently (a misspelt `titel` changed nothing without a word) and a
view passing `**validated_data` on could hand a service a keyword it does not take. Each case
sends only `zz_unknown` (plus what it needs to reach its serializer) and expects it named; the
case list must name every write route (`test_every_write_route_is_covered`).
"""

from __future__ import annotations

import importlib
import inspect
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dam.models import Asset, Collection
from dam.services.metadata import collection_create
from governance.models import Budget, SafetyConfig
from tenants.audit import Actor
from tenants.models import ApiKey, Placement
from tenants.services import placement_create
from tests.factories import make_asset, make_webhook_delivery, png_bytes
from tests.support.errors import error_fields

pytestmark = pytest.mark.django_db

UNKNOWN = {"zz_unknown": "x"}

# (method, url template, extra body)
WRITES = [
    ("post", "/api/v1/api-keys", {"name": "k", "scopes": ["assets:read"]}),
    ("put", "/api/v1/brand-policy/current", {}),
    ("patch", "/api/v1/brand-policy/current", {}),
    ("post", "/api/v1/placements", {"slug": "pdp", "width": 300, "height": 300}),
    ("patch", "/api/v1/placements/{placement}", {}),
    ("patch", "/api/v1/assets/{asset}", {"title": "new"}),
    ("patch", "/api/v1/assets/{asset}/versions/1", {}),
    ("post", "/api/v1/collections", {"slug": "summer"}),
    ("patch", "/api/v1/collections/{collection}", {"name": "x"}),
    ("patch", "/api/v1/library-settings", {}),
    ("post", "/api/v1/jobs", {"prompt": "a cabin", "quality": "low"}),
    ("post", "/api/v1/jobs/plan", {"prompt": "a cabin", "quality": "low"}),
    ("post", "/api/v1/assets/{asset}/versions/1/approve", {}),
    ("post", "/api/v1/assets/{asset}/versions/1/reject", {}),
    ("put", "/api/v1/safety-config/current", {}),
    ("post", "/api/v1/budgets", {"monthly_limit_usd": "100"}),
    ("patch", "/api/v1/budgets/{budget}", {}),
    ("post", "/api/v1/costs/estimate", {"images_per_month": 10}),
    ("put", "/api/v1/publish-windows/{version}", {}),
    ("put", "/api/v1/delivery-settings/current", {"signed_urls_required": True}),
    ("post", "/api/v1/webhooks", {"url": "https://example.com/hook", "events": ["asset.approved"]}),
    ("patch", "/api/v1/webhooks/{webhook}", {}),
]


@pytest.fixture
def objects(alice):
    from governance.services.budgets import budget_set

    asset = make_asset(alice.tenant, title="lamp")
    placement = placement_create(tenant=alice.tenant, slug="hero", width=640, height=480)
    collection = collection_create(tenant=alice.tenant, slug="winter")
    budget = budget_set(tenant=alice.tenant, actor=Actor.system("test"), monthly_limit_usd=Decimal("50.00"))
    webhook = make_webhook_delivery(alice.tenant).endpoint
    return {
        "asset": asset.pk,
        "version": asset.current_version_id,
        "placement": placement.pk,
        "collection": collection.pk,
        "budget": budget.pk,
        "webhook": webhook.pk,
    }


def _counts(tenant) -> tuple[int, ...]:
    return (
        ApiKey.objects.for_tenant(tenant).count(),
        Placement.objects.for_tenant(tenant).count(),
        Collection.objects.for_tenant(tenant).count(),
        Asset.objects.for_tenant(tenant).count(),
        SafetyConfig.objects.for_tenant(tenant).count(),
        Budget.objects.for_tenant(tenant).count(),
    )


@pytest.mark.parametrize(("method", "url", "body"), WRITES, ids=[f"{m} {u}" for m, u, _ in WRITES])
def test_an_undeclared_key_is_400_naming_it_and_changes_nothing(alice, objects, method, url, body):
    before = _counts(alice.tenant)
    response = getattr(alice.client(), method)(url.format(**objects), {**body, **UNKNOWN}, format="json")
    assert response.status_code == 400, (url, response.status_code, response.content[:300])
    assert "zz_unknown" in error_fields(response)
    assert _counts(alice.tenant) == before


def test_an_upload_with_an_undeclared_form_field_is_400_naming_it(alice):
    upload = SimpleUploadedFile("a.png", png_bytes(), content_type="image/png")
    response = alice.client().post("/api/v1/assets", {"file": upload, "titel": "typo"}, format="multipart")
    assert response.status_code == 400 and "titel" in error_fields(response)
    assert not Asset.objects.for_tenant(alice.tenant).exists()


API_MODULES = [
    "dam.api.library",
    "dam.api.delivery",
    "dam.api.webhooks",
    "generation.api.jobs",
    "generation.api.estimates",
    "governance.api.audit",
    "governance.api.costs",
    "dam.api.review",
    "governance.api.safety",
    "tenants.api.tenancy",
    "tenants.api.brand",
]


SPREAD = re.compile(r"(\w+)\(\s*(?:[^()]|\([^()]*\))*?\*\*(\w+)\.validated_data")


def _spread_calls():
    """(view, service, serializer) for every `service(..., **<serializer>.validated_data)` in the API."""
    for module_name in API_MODULES:
        module = importlib.import_module(module_name)
        for view in vars(module).values():
            if not (inspect.isclass(view) and view.__module__ == module_name and hasattr(view, "as_view")):
                continue
            for name, method in vars(view).items():
                if not inspect.isfunction(method):
                    continue
                source = inspect.getsource(method)
                made = dict(re.findall(r"(\w+) = (\w+)\(data=", source))
                for service, variable in re.findall(
                    r"(\w+)\(\s*(?:[^()]|\([^()]*\))*?\*\*(\w+)\.validated_data", source
                ):
                    serializer = getattr(module, made[variable]) if variable in made else view.serializer_class
                    yield f"{view.__name__}.{name}", getattr(module, service), serializer


def test_no_spread_of_validated_data_hands_a_service_a_keyword_it_does_not_take():
    calls = list(_spread_calls())
    assert len(calls) >= 8
    for where, service, serializer in calls:
        parameters = inspect.signature(service).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            continue  # the service checks the keys itself
        writable = {name for name, field in serializer().fields.items() if not field.read_only}
        assert writable <= set(parameters), (where, service.__name__, writable - set(parameters))


def test_a_new_webhook_with_active_false_is_400_naming_it_not_a_500(alice):
    body = {"url": "https://example.com/hook", "events": ["asset.approved"], "active": False}
    response = alice.client().post("/api/v1/webhooks", body, format="json")
    assert response.status_code == 400 and error_fields(response) == {"active"}
