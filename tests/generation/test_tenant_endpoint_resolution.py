"""A tenant's own deployments reach public addresses only, by what their host names resolve to: refused when saved
if any answer is internal, and checked again at every call, which connects to the address it checked (DNS
rebinding), keeping the host name in the Host header and TLS. Platform pools' members are not checked.

DNS is the edge these tests cannot reach: `socket.getaddrinfo` is scripted for the one test host name (as in
tests/dam/test_webhook_targets.py); everything else (the HTTP servers on 127.0.0.1, the client, the job run) is real.
"""

from __future__ import annotations

import base64
import io
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from PIL import Image

from generation.foundry.client import FoundryImageClient, InternalEndpointError, shared_client
from generation.models import AttemptState, DeploymentPool, Job, PoolMember, ProviderAttempt
from generation.selectors import pools as pool_selectors
from generation.services.capacity import pool_create, pool_member_save
from generation.services.execution import job_run
from governance.models import LedgerEntry
from tenants.audit import Actor
from tests.dam.test_webhook_targets import EMBEDDED_INTERNAL, PUBLIC, _tls_files
from tests.fixtures.celery_worker import job_queue_consumed_only_by
from tests.support.dns import scripted_resolver
from tests.support.errors import error_message, names_field

MEMBERS = "/api/v1/capacity/pool/members"
OPERATOR = Actor.system("test-operator")
KEY = "sk-tenant-own-key-0123456789"
HOST = "foundry.tenant-a.example"
# Internal answers a tenant's name may give: loopback, the cloud metadata service, private, IPv6 loopback, and IPv6
# forms carrying an internal IPv4 address (NAT64 -> metadata, IPv4-mapped loopback, 6to4 -> loopback).
INTERNAL = [
    "127.0.0.1",
    "169.254.169.254",
    "10.0.0.7",
    "::1",
    "64:ff9b::a9fe:a9fe",
    "::ffff:127.0.0.1",
    "2002:7f00:1::1",
]


@pytest.fixture(autouse=True)
def fresh_routes(settings):
    settings.DISPATCH_KEY_PREFIX = f"{settings.DISPATCH_KEY_PREFIX}:endpoints:{id(settings)}"
    pool_selectors._routes.clear()
    pool_selectors._dispatcher.cache_clear()
    yield
    pool_selectors._routes.clear()
    pool_selectors._dispatcher.cache_clear()


def _resolver(monkeypatch, answers: list[str | list[str] | None], host: str = HOST) -> list[str]:
    return scripted_resolver(monkeypatch, host, answers)


def _body(endpoint: str = f"https://{HOST}", **values) -> dict:
    return {
        "name": "own-1",
        "endpoint": endpoint,
        "deployment": "gpt-image-2",
        "api_key": KEY,
        "region": "swedencentral",
        "rpm": 600,
        **values,
    }


def _rows() -> list:
    return [
        sorted(DeploymentPool.objects.values_list("id", "name", "owner_id")),
        sorted(PoolMember.objects.values_list("id", "endpoint", "rpm", "enabled", "api_key_ciphertext")),
    ]


def _add(persona, body: dict):
    with override_settings(TENANT_ENDPOINTS_ALLOW_PRIVATE=False):
        return persona.client().post(MEMBERS, body, format="json")


# --- when a deployment is saved ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("answer", [*INTERNAL, [PUBLIC, "10.0.0.7"]], ids=str)
def test_a_name_resolving_to_an_internal_address_is_refused_when_added(alice, monkeypatch, answer):
    asked = _resolver(monkeypatch, [answer])
    before = _rows()

    response = _add(alice, _body())

    assert response.status_code == 400 and names_field(response, "endpoint"), response.content
    assert "resolves to an internal address" in error_message(response, "endpoint")
    assert asked == [HOST] and _rows() == before


@pytest.mark.django_db
@pytest.mark.parametrize("answer", EMBEDDED_INTERNAL)
def test_every_ipv6_form_carrying_an_internal_ipv4_address_is_refused_when_added(alice, monkeypatch, answer):
    _resolver(monkeypatch, [answer])
    response = _add(alice, _body())
    assert response.status_code == 400 and names_field(response, "endpoint"), response.content
    assert not PoolMember.objects.exists()


@pytest.mark.django_db
def test_a_name_that_does_not_resolve_is_refused_when_added(alice, monkeypatch):
    _resolver(monkeypatch, [None])
    response = _add(alice, _body())
    assert response.status_code == 400 and names_field(response, "endpoint"), response.content
    assert "does not resolve" in error_message(response, "endpoint") and not PoolMember.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("answer", [PUBLIC, "2606:4700::1111", [PUBLIC, "93.184.215.15"]], ids=str)
def test_a_name_resolving_to_public_addresses_is_accepted(alice, monkeypatch, answer):
    asked = _resolver(monkeypatch, [answer])
    response = _add(alice, _body(f"https://{HOST}:8443"))
    assert response.status_code == 201, response.content
    assert asked == [HOST]
    assert PoolMember.objects.get(pk=response.json()["id"]).endpoint == f"https://{HOST}:8443"


@pytest.mark.django_db
def test_a_changed_endpoint_is_resolved_and_other_changes_are_not(alice, monkeypatch):
    asked = _resolver(monkeypatch, [PUBLIC, "169.254.169.254"])
    member_id = _add(alice, _body()).json()["id"]
    other = "metadata.tenant-a.example"
    asked_other = _resolver(monkeypatch, ["169.254.169.254"], host=other)

    with override_settings(TENANT_ENDPOINTS_ALLOW_PRIVATE=False):
        moved = alice.client().patch(f"{MEMBERS}/{member_id}", {"endpoint": f"https://{other}"}, format="json")
        # The stored name now resolves inside: its calls are refused, but its other settings still change.
        kept = alice.client().patch(f"{MEMBERS}/{member_id}", {"rpm": 12}, format="json")

    assert moved.status_code == 400 and names_field(moved, "endpoint"), moved.content
    assert asked_other == [other]
    assert kept.status_code == 200, kept.content
    assert asked == [HOST]  # resolved once, when it was added
    member = PoolMember.objects.get(pk=member_id)
    assert (member.endpoint, member.rpm) == (f"https://{HOST}", 12)


@pytest.mark.django_db
def test_with_private_targets_allowed_the_name_is_not_resolved_when_saved(alice, monkeypatch):
    asked = _resolver(monkeypatch, ["127.0.0.1"])
    with override_settings(TENANT_ENDPOINTS_ALLOW_PRIVATE=True):
        response = alice.client().post(MEMBERS, _body(), format="json")
        literal = alice.client().post(MEMBERS, _body("https://127.0.0.1:8765", name="own-2"), format="json")
    assert response.status_code == 201, response.content
    assert asked == []
    # A literal internal address is refused either way.
    assert literal.status_code == 400 and names_field(literal, "endpoint"), literal.content


@pytest.mark.django_db
def test_only_a_tenant_owned_pools_members_are_checked_at_call_time(alice, monkeypatch):
    _resolver(monkeypatch, [PUBLIC])
    own = PoolMember.objects.select_related("pool").get(pk=_add(alice, _body()).json()["id"])
    platform = _platform_member("http://platform-foundry.example:8765")

    assert own.to_config().public_only is True and platform.to_config().public_only is False
    # The flag is part of the shared clients' key: a checked deployment never gets an unchecked client.
    unchecked = replace(own.to_config(), public_only=False)
    assert shared_client(own.to_config()) is not shared_client(unchecked)


def _platform_member(endpoint: str) -> PoolMember:
    pool = pool_create(name="platform-eu", owner=None, actor=OPERATOR)
    member = PoolMember(pool=pool, name="platform-1", endpoint=endpoint, deployment="gpt-image-2", region="eu")
    return pool_member_save(member=member, actor=OPERATOR, api_key="sk-operator-key-000")


# --- at every call -------------------------------------------------------------------------------------------


@dataclass
class FakeFoundry:
    """An image API on 127.0.0.1: counts every TCP connection it accepts and records every request."""

    port: int
    connections: int = 0
    requests: list[dict] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)


def _png() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 40, 40)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@contextmanager
def fake_foundry(tls: tuple[str, str] | None = None) -> Iterator[FakeFoundry]:
    answer = f'{{"created": 1, "data": [{{"b64_json": "{_png()}"}}]}}'.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            foundry.requests.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def verify_request(self, request, client_address) -> bool:
            foundry.connections += 1
            return True

    server = Server(("127.0.0.1", 0), Handler)
    foundry = FakeFoundry(port=server.server_address[1])
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        context.sni_callback = lambda sock, server_name, ctx: foundry.server_names.append(server_name)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield foundry
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_name_rebound_to_loopback_after_it_was_saved_is_never_connected_to_and_the_job_fails_saying_why(
    alice, clean_emulator, monkeypatch
):
    """Public when saved, 127.0.0.1 when the worker calls, where a server listens: it receives no connection, the
    attempt is refused with the reason, and the job fails with it (no job retries: it would fail the same way)."""
    with fake_foundry() as listener:
        asked = _resolver(monkeypatch, [PUBLIC, "127.0.0.1"])
        added = _add(alice, _body(f"https://{HOST}:{listener.port}"))
        assert added.status_code == 201, added.content
        with override_settings(TENANT_ENDPOINTS_ALLOW_PRIVATE=False), job_queue_consumed_only_by(set()):
            submitted = alice.client().post("/api/v1/jobs", {"prompt": "a lighthouse", "quality": "low"}, format="json")
            assert submitted.status_code == 202, submitted.content
            job_id = submitted.json()["id"]
            outcome = job_run(job_id=job_id, owner="run-1")

    assert listener.connections == 0 and listener.requests == []
    assert asked == [HOST, HOST]  # saved, then the one call: resolved once each
    job = Job.unscoped.get(pk=job_id)
    assert outcome.state == "failed" and job.state == "failed", (job.error_code, job.error_message)
    assert "resolves to an internal address" in job.error_message and "endpoint_internal_address" in job.error_message
    assert job.error_code == "endpoint_internal_address"  # not a wrong key: the endpoint's address
    (attempt,) = ProviderAttempt.unscoped.filter(job_id=job_id)
    assert attempt.state == AttemptState.REFUSED and "resolves to an internal address" in attempt.detail["message"]
    assert not LedgerEntry.objects.for_tenant(alice.tenant).filter(job_id=job_id, kind="charge").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("answer", [*INTERNAL, *EMBEDDED_INTERNAL, [PUBLIC, "127.0.0.1"]], ids=str)
def test_a_call_to_a_name_resolving_inside_is_refused_without_dialling(alice, monkeypatch, answer):
    _resolver(monkeypatch, [PUBLIC])
    config = PoolMember.objects.get(pk=_add(alice, _body()).json()["id"]).to_config()
    _resolver(monkeypatch, [answer])
    dialled: list = []
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: dialled.append(address))

    with (
        override_settings(TENANT_ENDPOINTS_ALLOW_PRIVATE=False),
        FoundryImageClient(config) as client,
        pytest.raises(InternalEndpointError, match="resolves to an internal address") as refused,
    ):
        client.generate(prompt="a lighthouse")

    assert dialled == [] and refused.value.retryable is False


@pytest.mark.django_db
def test_a_call_connects_to_the_checked_address_with_the_host_name_in_the_host_header(alice, monkeypatch):
    """Private answers allowed (the server is on 127.0.0.1): the request resolves the name once and reaches the
    address it gave, though the resolver answers elsewhere afterwards; the server sees the host name."""
    with fake_foundry() as foundry:
        # An operator may add a deployment to a tenant's own pool (the staff UI's pool page), over http here: still
        # the tenant's pool, still checked.
        pool = pool_create(name="a-own", owner=alice.tenant, actor=OPERATOR)
        member = PoolMember(
            pool=pool, name="own-1", endpoint=f"http://{HOST}:{foundry.port}", deployment="gpt-image-2", region="eu"
        )
        config = pool_member_save(member=member, actor=OPERATOR, api_key=KEY).to_config()
        asked = _resolver(monkeypatch, ["127.0.0.1", "192.0.2.1"])
        with override_settings(TENANT_ENDPOINTS_ALLOW_PRIVATE=True), FoundryImageClient(config) as client:
            result = client.generate(prompt="a lighthouse")

    assert config.public_only and asked == [HOST] and len(result.outputs) == 1
    (request,) = foundry.requests
    assert request["host"] == f"{HOST}:{foundry.port}" and request["api-key"] == KEY
    assert request["path"].startswith("/openai/deployments/gpt-image-2/images/generations?api-version=")
    assert foundry.connections == 1


@pytest.mark.django_db
def test_https_to_the_checked_address_sends_the_host_name_in_sni_and_verifies_the_certificate_for_it(
    alice, monkeypatch, tmp_path
):
    """The socket goes to 127.0.0.1, yet TLS asks for and verifies the host name: the certificate names only the
    host, so a check against the IP address would fail the call."""
    ca, cert, key = _tls_files(tmp_path, HOST)
    with fake_foundry(tls=(cert, key)) as foundry, override_settings(TENANT_ENDPOINTS_ALLOW_PRIVATE=True):
        added = alice.client().post(MEMBERS, _body(f"https://{HOST}:{foundry.port}"), format="json")
        assert added.status_code == 201, added.content
        config = PoolMember.objects.get(pk=added.json()["id"]).to_config()
        asked = _resolver(monkeypatch, ["127.0.0.1"])
        # The client wraps a given transport too: here one that trusts the test CA (and only it).
        trusting = httpx.HTTPTransport(verify=ssl.create_default_context(cafile=ca))
        with FoundryImageClient(config, transport=trusting) as client:
            result = client.generate(prompt="a lighthouse")

    assert len(result.outputs) == 1 and asked == [HOST]
    assert foundry.server_names == [HOST] and [r["host"] for r in foundry.requests] == [f"{HOST}:{foundry.port}"]


@pytest.mark.django_db
def test_a_platform_pools_member_may_resolve_to_a_private_address(monkeypatch):
    """Operators configure platform pools, whose deployments may be private endpoints: not checked, not pinned."""
    with fake_foundry() as foundry:
        member = _platform_member(f"http://platform-foundry.example:{foundry.port}")
        _resolver(monkeypatch, ["127.0.0.1"], host="platform-foundry.example")
        with override_settings(TENANT_ENDPOINTS_ALLOW_PRIVATE=False), FoundryImageClient(member.to_config()) as client:
            result = client.generate(prompt="a lighthouse")
    assert len(result.outputs) == 1 and foundry.requests[0]["host"] == f"platform-foundry.example:{foundry.port}"


@pytest.mark.django_db
def test_loading_a_route_reads_the_same_statements_for_one_member_or_five(alice, monkeypatch):
    # Each member's config asks its pool's owner (public_only): read with the members, not one query per member.
    _resolver(monkeypatch, [PUBLIC])
    _add(alice, _body())
    tenant_id = alice.tenant.pk
    with CaptureQueriesContext(connection) as one:
        route = pool_selectors.route_for(tenant_id=tenant_id)
    assert len(route.members) == 1
    for n in range(2, 6):
        assert _add(alice, _body(name=f"own-{n}")).status_code == 201
    pool_selectors._routes.clear()
    with CaptureQueriesContext(connection) as five:
        route = pool_selectors.route_for(tenant_id=tenant_id)
    assert len(route.members) == 5 and all(config.public_only for config in route.configs.values())
    assert len(five.captured_queries) == len(one.captured_queries)
