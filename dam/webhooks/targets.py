"""Where a webhook may be sent, and sending it to the very address that was checked (SSRF, DNS rebinding).

A receiver's host is resolved once per check. Every address it resolves to must be a public one,
including IPv4 addresses hidden inside IPv6 forms (NAT64, 6to4, Teredo, IPv4-mapped and -compatible:
Python's `is_global` does not look inside most of them before 3.13). The delivery then connects to
one of those checked addresses, never to a second answer of the resolver: a host whose DNS answers
a public address at check time and 127.0.0.1 a moment later (rebinding) would otherwise reach the
internal service. The URL's host is swapped for the checked address, while the Host header and,
for https, the TLS server name (SNI) and certificate verification keep the original host name.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from tenants.errors import ServiceError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# RFC 6052 well-known NAT64 prefix: the last 32 bits are the IPv4 address the translator reaches.
NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
# RFC 8215 local-use NAT64 prefix: translates into the operator's own networks; never a public receiver.
NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")
# RFC 4291 IPv4-compatible addresses (deprecated): ::a.b.c.d.
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class UnsafeTarget(ServiceError):
    pass


class Unresolvable(UnsafeTarget):
    """The host name does not resolve (now): a refusal at registration, a connection failure at call time."""


@dataclass(frozen=True)
class CheckedTarget:
    """A receiver URL and the addresses its host resolved to when it was checked."""

    url: str
    hostname: str
    addresses: tuple[IPAddress, ...]


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries and that a tunnel or translator would deliver to."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)  # (server, client): either could be the one reached
    if address in NAT64_WELL_KNOWN or address in IPV4_COMPATIBLE:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def refusal(address: IPAddress) -> str | None:
    """Why a receiver must not be at `address`, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in NAT64_LOCAL_USE:
            return "must not point at a local-use NAT64 address (64:ff9b:1::/48)"
        if address in IPV4_COMPATIBLE:
            # Deprecated since 2006: no public receiver uses one, and :: / ::1 live here too.
            return "must not point at an IPv4-compatible IPv6 address (::/96)"
        for inner in embedded_ipv4(address):
            if not inner.is_global:
                return f"must not point at an IPv6 address embedding the internal IPv4 address {inner}"
    if not address.is_global:
        return "must not point at a private, loopback or reserved address"
    return None


def _resolve(hostname: str, port: int) -> tuple[IPAddress, ...]:
    try:
        return (ipaddress.ip_address(hostname),)  # a literal: nothing to resolve
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(hostname, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise Unresolvable("host does not resolve", field="url") from None
    # scope ids (fe80::1%eth0) are dropped: such an address is link-local and refused anyway
    addresses = dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos)
    if not addresses:
        raise Unresolvable("host does not resolve", field="url")
    return tuple(addresses)


def checked_addresses(hostname: str, port: int, *, allow_private: bool) -> tuple[IPAddress, ...]:
    """`hostname` resolved once, refused (UnsafeTarget) when any answer is refused by `refusal`.

    Every answer, not only the first: a client may connect to any of them. The other callers (tenants'
    own image deployments, generation.foundry.client) connect to these addresses as webhooks do.
    """
    addresses = _resolve(hostname, port)
    if not allow_private:
        for address in addresses:
            reason = refusal(address)
            if reason:
                raise UnsafeTarget(reason, field="url")
    return addresses


def check_target(url: str) -> None:
    """Refuse receivers on loopback, private, link-local or reserved addresses (SSRF): at registration.

    WEBHOOK_ALLOW_PRIVATE_TARGETS (development, tests) lifts the https and address rules, and then
    a host need not resolve yet when it is registered.
    """
    _checked(url, resolve=not settings.WEBHOOK_ALLOW_PRIVATE_TARGETS)


def resolve_target(url: str) -> CheckedTarget:
    """Check a receiver for one delivery attempt and return the addresses to connect to.

    The host is resolved here only, even when private targets are allowed: the attempt connects to
    what this resolution returned.
    """
    return _checked(url, resolve=True)


def _checked(url: str, *, resolve: bool) -> CheckedTarget:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeTarget("must be an http(s) URL with a host", field="url")
    if parts.username or parts.password:
        raise UnsafeTarget("must not carry credentials", field="url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeTarget("has an invalid port", field="url") from None
    allow_private = settings.WEBHOOK_ALLOW_PRIVATE_TARGETS
    if not allow_private and parts.scheme != "https":
        raise UnsafeTarget("must be https", field="url")
    addresses = checked_addresses(parts.hostname, port, allow_private=allow_private) if resolve else ()
    return CheckedTarget(url=url, hostname=parts.hostname, addresses=addresses)


def pinned_request(target: CheckedTarget, address: IPAddress) -> tuple[str, dict[str, str], dict[str, str]]:
    """(URL with the host replaced by `address`, Host header, httpx request extensions) for one attempt.

    The `sni_hostname` extension makes httpcore send the original host name in TLS SNI and verify
    the certificate against it, though the socket is opened to the IP address.
    """
    original = httpx.URL(target.url)
    host = original.raw_host.decode("ascii")  # IDNA-encoded, as it goes on the wire
    extensions = {"sni_hostname": host} if original.scheme == "https" else {}
    return str(original.copy_with(host=str(address))), {"Host": original.netloc.decode("ascii")}, extensions
