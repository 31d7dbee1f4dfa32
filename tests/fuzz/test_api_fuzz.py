"""Schemathesis over `/api/schema/`, in process, with a key of each role: the schema must tell the truth.

Every operation the schema lists is called with generated requests (valid and invalid ones,
and the schema's own examples) as each role: an admin key, an editor-and-reviewer key, a
storefront key (`assets:read` only) and a signed-in staff member's session. Each answer must
be no server error, carry a status code and a content type the schema lists for that
operation, and match the schema of that status. Generation is derandomized (hypothesis
`derandomize`: a fixed seed), so a failure is reproduced by running the test again;
`FUZZ_MAX_EXAMPLES` sets the number of examples per operation and role; `FUZZ_PATHS` (a regular expression)
limits the run to the operations whose path it finds (`FUZZ_PATHS=capacity` for the capacity endpoints).

Every request runs in a savepoint that is rolled back after the answer, so each one sees
the same fixtures: a DELETE or a key rotation cannot break the operations after it.
Drawn ids are mapped (deterministically) onto the ids of real objects of tenant A (the
caller's) and of tenant B (another tenant's: 404), or left as drawn, so the fuzzer reaches
the objects' code and not only the 404 of an unknown id.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter, defaultdict

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dam.lifecycle import VersionStatus
from generation.services.capacity import tenant_pool_member_add
from governance.models import AuditEvent
from tenants.audit import Actor
from tenants.models import Role, Scope
from tests.factories import (
    make_api_key,
    make_asset,
    make_tenant,
    make_user,
    make_version,
    make_webhook_delivery,
    set_window,
    storefront_asset,
)
from tests.support.fuzz import REPORT

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz, pytest.mark.slow]

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "20"))
ONLY_PATHS = re.compile(os.environ.get("FUZZ_PATHS", ""))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EDITOR_SCOPES = [s for s in Scope.values if s != Scope.ADMIN]
FIGURES: Counter = Counter()
STATUSES: defaultdict[str, Counter] = defaultdict(Counter)
OPERATIONS: set[str] = set()
FAILED: set[str] = set()
CSRF = "f" * 32
ABSENT_ID = 10**9


@pytest.fixture
def wsgi_app(world):
    """Django's own WSGI handler, as gunicorn runs it, minus the connection recycling of each request.

    Closing "old" connections at the end of a request would close the test's connection,
    which holds the fixtures in an open transaction (Django's test client skips it too, and
    connects it again after each of its requests: hence after the fixtures are built).
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def world(db, tenant_b):
    """Tenant A with one object of every kind, each reached by an API key of every role; tenant B's objects."""
    tenant = make_tenant("fuzz-a", name="Fuzz A")
    admin = make_api_key(tenant, *Scope.values, name="fuzz-admin")
    editor = make_api_key(tenant, *EDITOR_SCOPES, name="fuzz-editor")
    storefront = make_api_key(tenant, Scope.ASSETS_READ, name="fuzz-storefront")
    staff = make_user("fuzz-staff", tenant=tenant, role=Role.ADMIN)
    browser = Client()
    browser.force_login(staff)
    # role -> (headers, cookies); the session also passes Django's CSRF check on writes.
    credentials = {
        "admin": ({"Authorization": f"Bearer {admin.token}"}, {}),
        "editor": ({"Authorization": f"Bearer {editor.token}"}, {}),
        "storefront": ({"Authorization": f"Bearer {storefront.token}"}, {}),
        "staff": ({"X-CSRFToken": CSRF}, {"sessionid": browser.cookies["sessionid"].value, "csrftoken": CSRF}),
    }
    api = Client(HTTP_AUTHORIZATION=f"Bearer {admin.token}", HTTP_HOST="localhost")

    def created(path: str, body: dict) -> int:
        response = api.post(path, body, content_type="application/json")
        assert response.status_code in (200, 201, 202), (path, response.content)
        return response.json()["id"]

    placement = created("/api/v1/placements", {"slug": "pdp-square", "width": 1024, "height": 1024})
    collection = created("/api/v1/collections", {"slug": "spring"})
    budget = created("/api/v1/budgets", {"monthly_limit_usd": "250.00"})
    policy = api.put("/api/v1/brand-policy/current", {"banned_terms": ["cheap"]}, content_type="application/json")
    safety = api.put("/api/v1/safety-config/current", {"preset": "general"}, content_type="application/json")
    assert policy.status_code == safety.status_code == 201, (policy.content, safety.content)
    webhook = make_webhook_delivery(tenant)
    job = created("/api/v1/jobs", {"prompt": "A trail shoe on wet rock", "placements": ["pdp-square"]})
    campaign = created(
        "/api/v1/campaigns",
        {
            "name": "Spring",
            "markets": [{"locale": "en", "copy": "Spring sale"}],
            "placements": ["pdp-square"],
            "creatives": [{"key": "shoe", "prompt": "A trail shoe on wet rock"}],
        },
    )
    asset = storefront_asset(tenant, title="hero")
    make_version(tenant, asset=asset, title="hero")
    draft = make_asset(tenant, title="draft")
    set_window(asset.current_version, start=None, end=None)
    storefront_asset(tenant, title="published", status=VersionStatus.PUBLISHED)
    other = make_asset(tenant_b, title="theirs")
    # A deployment of each tenant's own pool (the first one makes the pool).
    own = created("/api/v1/capacity/pool/members", POOL_MEMBER)
    theirs = tenant_pool_member_add(
        tenant=tenant_b, values=POOL_MEMBER_VALUES, api_key="sk-theirs", actor=Actor.system("fuzz")
    )
    events = AuditEvent.objects.for_tenant(tenant).order_by("pk").values_list("pk", flat=True)
    ids = {
        "assets": [asset.pk, draft.pk, other.pk],
        "storefront": [asset.pk, other.pk],
        "placements": [placement],
        "collections": [collection],
        "webhooks": [webhook.endpoint_id],
        "webhook-deliveries": [webhook.pk],
        "jobs": [job],
        "campaigns": [campaign],
        "publish-windows": [asset.current_version_id, draft.current_version_id, other.current_version_id],
        "budgets": [budget],
        "brand-policy": [policy.json()["id"]],
        "safety-config": [safety.json()["id"]],
        "audit": [events.first(), events.last()],
        "api-keys": [storefront.api_key.pk, admin.api_key.pk],
        "memberships": list(staff.memberships.values_list("pk", flat=True)),
        "capacity": [own, theirs.pk],
    }
    return credentials, ids


POOL_MEMBER_VALUES = {
    "name": "fuzz-own",
    "endpoint": "https://fuzz-own.openai.azure.com",
    "deployment": "gpt-image-2",
    "region": "swedencentral",
    "rpm": 10,
}
POOL_MEMBER = {**POOL_MEMBER_VALUES, "api_key": "sk-fuzz-own"}


def _resource(path: str) -> str:
    parts = path.removeprefix("/api/v1/").split("/")
    return "storefront" if parts[0] == "storefront" else parts[0]


def _point_at_real_objects(case, ids: dict) -> None:
    """Most drawn ids become a real object's (deterministically: the same case, the same id)."""
    known = ids.get(_resource(case.operation.path), [])
    for name, value in (case.path_parameters or {}).items():
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        if name in ("id", "pk") and known:
            index = value % (len(known) + 1)
            if index < len(known):
                case.path_parameters[name] = known[index]
            elif 0 <= value < ABSENT_ID:
                # Past every fixture's id, whatever the sequences hold: the same 404 in every run.
                case.path_parameters[name] = ABSENT_ID + value
            # Negative and huge ids stay as drawn.
        elif name == "number":
            case.path_parameters[name] = value % 4  # 0 and 3 do not exist, 1 and 2 do
    spec = (case.path_parameters or {}).get("spec")
    if isinstance(spec, str) and len(spec) % 3:
        case.path_parameters["spec"] = "original" if len(spec) % 3 == 1 else "placement:pdp-square"


@pytest.fixture
def fuzz_schema(wsgi_app):
    """The schema as `/api/schema/` serves it to a client asking for JSON."""
    config = schemathesis.Config.from_dict({"generation": {"deterministic": True}})
    return schemathesis.openapi.from_wsgi(
        "/api/schema/", wsgi_app, config=config, headers={"Accept": "application/json"}
    )


def _fuzz_operation(schema, operation, *, credentials: tuple[dict, dict], ids: dict, role: str) -> None:
    """Valid and invalid requests for one operation, and its schema's examples (they reach past
    validation into the services); raises the first failing check after shrinking."""
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        *schema.get_strategies_from_examples(operation),
    )

    headers, cookies = credentials

    @FUZZ_SETTINGS
    @given(case=cases)
    def run(case) -> None:
        _point_at_real_objects(case, ids)
        FIGURES["requests"] += 1
        with transaction.atomic():
            response = case.call(headers=headers, cookies=cookies)
            transaction.set_rollback(True)
        STATUSES[role][response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate, Phase.target, Phase.shrink],
)


@pytest.mark.parametrize("role", ["admin", "editor", "storefront", "staff"])
def test_every_operation_answers_as_its_schema_says(fuzz_schema, world, role):
    credentials, ids = world
    failures: list[str] = []
    for result in fuzz_schema.get_all_operations():
        operation = result.ok()
        if not ONLY_PATHS.search(operation.path):
            continue
        OPERATIONS.add(operation.label)
        try:
            _fuzz_operation(fuzz_schema, operation, credentials=credentials[role], ids=ids, role=role)
        except (Exception, BaseExceptionGroup) as exc:  # every failing operation is reported, not the first only
            FAILED.add(f"{role} {operation.label}")
            failures.append(f"--- {role} {operation.label}\n{exc}")
    assert not failures, "\n".join(failures)


def _codes(counts: Counter) -> str:
    return ", ".join(f"{code} x{n}" for code, n in sorted(counts.items()))


@pytest.fixture(scope="module", autouse=True)
def figures():
    """The run's figures, printed by tests/fuzz/conftest.py in pytest's terminal summary."""
    started = time.monotonic()
    yield
    seconds = time.monotonic() - started
    REPORT[:] = [
        f"API fuzz (derandomized, {MAX_EXAMPLES} examples per operation and role): {len(OPERATIONS)} operations, "
        f"{FIGURES['requests']} requests, {len(FAILED)} failing (role, operation), {seconds:.0f} s",
        *(f"  {role}: {_codes(counts)}" for role, counts in STATUSES.items()),
        *(f"  failing: {label}" for label in sorted(FAILED)),
    ]
