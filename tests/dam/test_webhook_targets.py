"""Webhook targets: IPv6 forms hiding internal IPv4 addresses are refused, and a delivery connects to
the address that was checked (one resolution per attempt: a rebinding resolver cannot redirect it)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import override_settings

from dam.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from dam.services.webhooks import webhook_delivery_attempt, webhook_emit, webhook_endpoint_create
from dam.webhooks.targets import CheckedTarget, pinned_request, resolve_target
from tests.support.dns import scripted_resolver
from tests.support.errors import error_fields
from tests.support.webhook_receiver import webhook_receiver

# IPv6 forms that reach an internal IPv4 address through a translator or a tunnel.
EMBEDDED_INTERNAL = [
    "64:ff9b::7f00:1",  # NAT64 well-known prefix -> 127.0.0.1
    "64:ff9b::a00:1",  # NAT64 -> 10.0.0.1
    "64:ff9b:1::a9fe:a9fe",  # local-use NAT64 -> 169.254.169.254 (cloud metadata)
    "2002:7f00:1::1",  # 6to4 -> 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 -> 169.254.169.254
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:192.168.1.1",  # IPv4-mapped
    "::127.0.0.1",  # IPv4-compatible
    "::a9fe:a9fe",  # IPv4-compatible -> 169.254.169.254
]

PUBLIC = "93.184.215.14"


@pytest.mark.django_db
@pytest.mark.parametrize("address", EMBEDDED_INTERNAL)
def test_an_ipv6_literal_embedding_an_internal_ipv4_address_is_refused_at_registration(alice, address):
    with override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=False):
        response = alice.client().post(
            "/api/v1/webhooks", {"url": f"https://[{address}]/hooks", "events": ["job.failed"]}, format="json"
        )
    assert response.status_code == 400 and error_fields(response) == {"url"}, response.content
    assert not WebhookEndpoint.objects.for_tenant(alice.tenant).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("address", EMBEDDED_INTERNAL)
def test_a_host_resolving_to_an_embedding_ipv6_address_is_refused_at_registration(alice, monkeypatch, address):
    scripted_resolver(monkeypatch, "hooks.example.com", [address])
    with override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=False):
        response = alice.client().post(
            "/api/v1/webhooks", {"url": "https://hooks.example.com/dam", "events": ["job.failed"]}, format="json"
        )
    assert response.status_code == 400 and error_fields(response) == {"url"}, response.content
    assert not WebhookEndpoint.objects.for_tenant(alice.tenant).exists()


@pytest.mark.parametrize("address", ["64:ff9b::5db8:d70e", "2002:5db8:d70e::1", "::ffff:93.184.215.14", PUBLIC])
def test_forms_embedding_a_public_address_stay_allowed(monkeypatch, address):
    scripted_resolver(monkeypatch, "hooks.example.com", [address])
    with override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=False):
        target = resolve_target("https://hooks.example.com/dam")
    assert target.addresses == (ipaddress.ip_address(address),)


@pytest.mark.django_db
@pytest.mark.parametrize("address", EMBEDDED_INTERNAL)
def test_a_delivery_to_a_host_that_now_resolves_to_an_embedding_form_is_refused_without_connecting(
    alice, monkeypatch, address
):
    webhook_endpoint_create(tenant=alice.tenant, url="https://hooks.example.com/dam", events=["job.failed"])
    (delivery,) = webhook_emit(tenant=alice.tenant, event="job.failed", payload={"job": 1})
    scripted_resolver(monkeypatch, "hooks.example.com", [address])
    dialled: list = []
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: dialled.append(address))
    with override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=False):
        outcome = webhook_delivery_attempt(delivery_id=delivery.pk)
    assert outcome.status == "failed" and dialled == []
    attempt = WebhookAttempt.objects.for_tenant(alice.tenant).get(delivery=delivery)
    assert attempt.error.startswith("refused target") and attempt.status_code is None


@pytest.mark.django_db
def test_a_rebinding_resolver_never_gets_a_connection_to_its_second_answer(alice, monkeypatch):
    """Public at the check, 127.0.0.1 afterwards: the one connection goes to the checked public address."""
    webhook_endpoint_create(tenant=alice.tenant, url="https://rebind.example.com:8443/dam", events=["job.failed"])
    (delivery,) = webhook_emit(tenant=alice.tenant, event="job.failed", payload={"job": 1})
    asked = scripted_resolver(monkeypatch, "rebind.example.com", [PUBLIC, "127.0.0.1"])
    dialled: list = []

    def create_connection(address, *args, **kwargs):
        dialled.append(address)
        raise ConnectionRefusedError("test: no network")

    monkeypatch.setattr(socket, "create_connection", create_connection)
    with override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=False):
        outcome = webhook_delivery_attempt(delivery_id=delivery.pk)
    assert asked == ["rebind.example.com"]  # exactly one resolution for the attempt
    assert dialled == [(PUBLIC, 8443)]
    assert outcome.status == "pending"  # a refused connection is retried later, with a fresh check


@pytest.mark.django_db
def test_a_delivery_posts_to_the_resolved_address_with_the_original_host_header(alice, monkeypatch):
    """Private targets allowed (the local receiver): still one resolution, and the request reaches the
    address it gave even though the resolver answers elsewhere afterwards."""
    with webhook_receiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        webhook_endpoint_create(tenant=alice.tenant, url=f"http://hooks.test:{port}/hooks", events=["job.failed"])
        (delivery,) = webhook_emit(tenant=alice.tenant, event="job.failed", payload={"job": 1})
        asked = scripted_resolver(monkeypatch, "hooks.test", ["127.0.0.1", "192.0.2.1"])
        outcome = webhook_delivery_attempt(delivery_id=delivery.pk)
    assert outcome.status == "succeeded", WebhookDelivery.objects.for_tenant(alice.tenant).get().last_error
    assert asked == ["hooks.test"]
    (request,) = receiver.requests
    assert request.headers["Host"] == f"hooks.test:{port}"


def test_https_keeps_the_host_name_for_sni_and_certificate_verification():
    target = CheckedTarget(
        url="https://Hooks.Example.com/dam?x=1", hostname="hooks.example.com", addresses=(ipaddress.ip_address(PUBLIC),)
    )
    url, host, extensions = pinned_request(target, target.addresses[0])
    assert url == f"https://{PUBLIC}/dam?x=1" and host == {"Host": "hooks.example.com"}
    assert extensions == {"sni_hostname": "hooks.example.com"}
    v6 = ipaddress.ip_address("2606:4700::1111")
    url, host, _ = pinned_request(CheckedTarget(url="http://h.example:81/x", hostname="h.example", addresses=(v6,)), v6)
    assert url == "http://[2606:4700::1111]:81/x" and host == {"Host": "h.example:81"}


def _tls_files(tmp_path, hostname: str) -> tuple[str, str, str]:
    """A throwaway CA and a server certificate for `hostname` only (no IP address in it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder(subject_name=name("test CA"), issuer_name=name("test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder(subject_name=name(hostname), issuer_name=ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return tuple(str(p) for p in paths)


@pytest.mark.django_db
def test_https_to_the_pinned_address_sends_the_host_name_in_sni_and_verifies_the_certificate_for_it(
    alice, monkeypatch, tmp_path
):
    """The socket goes to 127.0.0.1, yet TLS asks for and verifies hooks.test: the certificate names only the
    host, so a check against the IP address would fail the delivery."""
    ca, cert, key = _tls_files(tmp_path, "hooks.test")
    server_names: list[str | None] = []
    received: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, server_name, ctx: server_names.append(server_name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        webhook_endpoint_create(tenant=alice.tenant, url=f"https://hooks.test:{port}/dam", events=["job.failed"])
        (delivery,) = webhook_emit(tenant=alice.tenant, event="job.failed", payload={"job": 1})
        asked = scripted_resolver(monkeypatch, "hooks.test", ["127.0.0.1", "192.0.2.1"])
        monkeypatch.setenv("SSL_CERT_FILE", ca)  # httpx trusts the test CA (and only it)
        outcome = webhook_delivery_attempt(delivery_id=delivery.pk)
    finally:
        server.shutdown()
        server.server_close()
    assert outcome.status == "succeeded", WebhookDelivery.objects.for_tenant(alice.tenant).get().last_error
    assert asked == ["hooks.test"] and server_names == ["hooks.test"] and received == [f"hooks.test:{port}"]
