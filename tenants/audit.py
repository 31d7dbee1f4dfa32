"""The audit call point every service uses, without tenants depending on governance.

Services call `audit(...)` inside their own transaction. The writer that stores the event
(governance's hash-chained trail) is installed at start-up by `GovernanceConfig.ready()`;
calling `audit` before a writer is installed raises, so an event can never be silently
skipped (dependency inversion: tenants defines the port, governance plugs into it).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings

if TYPE_CHECKING:
    from tenants.api.base import TenantContext
    from tenants.models import ApiKey, Tenant

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_META = "HTTP_X_REQUEST_ID"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")
ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class AuditWriterMissing(RuntimeError):
    """No audit writer installed: the governed change must not happen unrecorded."""


@dataclass(frozen=True)
class Actor:
    """Who acted: a person, an API key, or the platform itself (a worker, a command, the ledger)."""

    kind: str  # "user" | "api_key" | "system"
    id: str
    label: str

    USER = "user"
    API_KEY = "api_key"
    SYSTEM = "system"

    @classmethod
    def of(cls, *, user: Any = None, api_key: ApiKey | None = None, fallback: str = "unattributed") -> Actor:
        """The key if there is one (it is what acted), else the person, else a named system actor."""
        if api_key is not None:
            return cls.for_api_key(api_key)
        if user is not None:
            return cls.for_user(user)
        return cls.system(fallback)

    @classmethod
    def for_user(cls, user: Any) -> Actor:
        return cls(cls.USER, str(user.pk), f"user:{user.get_username()}")

    @classmethod
    def for_api_key(cls, api_key: ApiKey) -> Actor:
        return cls(cls.API_KEY, str(api_key.pk), f"api-key:{api_key.prefix}")

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(cls.SYSTEM, name, f"system:{name}")

    @classmethod
    def from_context(cls, context: TenantContext) -> Actor:
        """The actor of an API request (`request.tenant_context`)."""
        return cls.of(user=context.user, api_key=context.api_key)

    @classmethod
    def from_request(cls, request: Any) -> Actor:
        return cls.from_context(request.tenant_context)

    @classmethod
    def resolve(cls, actor: Actor | None, *, user: Any = None, fallback: str = "unattributed") -> Actor:
        """The given actor, else the user a service was told about, else a named system actor."""
        if actor is not None:
            return actor
        if user is not None:
            return cls.for_user(user)
        return cls.system(fallback)


@dataclass(frozen=True)
class Target:
    """What was acted on, in the product's words: ("api_key", 12), ("job", 345), ("tenant", 1)."""

    type: str
    id: str

    @classmethod
    def coerce(cls, target: Target | tuple[str, Any]) -> Target:
        if isinstance(target, Target):
            return target
        kind, ident = target
        return cls(str(kind), "" if ident is None else str(ident))


@dataclass(frozen=True)
class RequestOrigin:
    """Where an HTTP-borne change came from, as the audit trail records it: the request id and the
    client address. Entry points build it once (`RequestOrigin.of(request)`) so services never hold
    the HTTP request itself."""

    request_id: str = ""
    ip: str = ""

    @classmethod
    def of(cls, request: Any) -> RequestOrigin | None:
        """The origin of a Django or DRF request; None when there is no request (a task, a command)."""
        if request is None:
            return None
        return cls(request_id=request_id_of(request), ip=client_ip_of(request))


class AuditWriter(Protocol):
    def __call__(
        self,
        *,
        tenant: Tenant | int,
        actor: Actor,
        action: str,
        target: Target,
        payload: Mapping[str, Any],
        origin: RequestOrigin | None = None,
    ) -> Any: ...


_writer: AuditWriter | None = None
_many_writer: Callable[[Sequence[Mapping[str, Any]]], Any] | None = None
_deferred: ContextVar[list[dict[str, Any]] | None] = ContextVar("audit_deferred", default=None)


def install_audit_writer(
    writer: AuditWriter, *, many: Callable[[Sequence[Mapping[str, Any]]], Any] | None = None
) -> None:
    """`many` (optional) writes a deferred block's events in one go, in order."""
    global _writer, _many_writer  # one process-wide port, set once at start-up
    _writer, _many_writer = writer, many


def audit_writer_installed() -> bool:
    return _writer is not None


def audit(
    *,
    tenant: Tenant | int,
    actor: Actor,
    action: str,
    target: Target | tuple[str, Any],
    payload: Mapping[str, Any],
    origin: RequestOrigin | None = None,
) -> Any:
    """Record that `actor` did `action` to `target`, in the caller's transaction.

    `payload` holds what changed, usually `changes(before, after)`. `origin` carries the request id
    and client IP when the change came through HTTP.
    """
    if _writer is None:
        raise AuditWriterMissing("no audit writer is installed: is 'governance' in INSTALLED_APPS?")
    if not isinstance(actor, Actor):
        raise TypeError(f"actor must be a tenants.audit.Actor, not {type(actor).__name__}")
    if not ACTION.match(action):
        raise ValueError(f"audit action {action!r} must look like 'noun.verb' (lowercase, dotted)")
    event = {
        "tenant": tenant,
        "actor": actor,
        "action": action,
        "target": Target.coerce(target),
        "payload": payload,
        "origin": origin,
    }
    if (pending := _deferred.get()) is not None:
        pending.append(event)
        return None
    return _writer(**event)


@contextmanager
def audit_deferred() -> Iterator[None]:
    """Events audited inside the block are written, in order, when it ends: still in the caller's
    transaction (put the block inside it), so they commit or roll back with the change.

    The writer serialises a tenant's events on its chain until commit, so a transaction that audits
    early keeps every other writer of the tenant waiting through all it does afterwards. Wrapping a
    busy transaction's body makes the chain its last step. Nested blocks leave the writing to the
    outermost; an exception discards the block's events with the rest of the transaction.
    """
    if _deferred.get() is not None:
        yield
        return
    pending: list[dict[str, Any]] = []
    token = _deferred.set(pending)
    try:
        yield
    finally:
        _deferred.reset(token)
    if pending and _many_writer is not None:
        _many_writer(pending)
        return
    for event in pending:
        _writer(**event)


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, Any]:
    """The before/after payload of an update, keeping only the fields that changed."""
    before, after = dict(before or {}), dict(after or {})
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return {
        "before": {k: before[k] for k in changed if k in before},
        "after": {k: after[k] for k in changed if k in after},
    }


def request_id_of(request: Any) -> str:
    if request is None:
        return ""
    request_id = getattr(request, "request_id", None) or request.META.get(REQUEST_ID_META, "")
    return request_id if _REQUEST_ID.match(request_id or "") else ""


def client_ip_of(request: Any) -> str:
    """REMOTE_ADDR, or the address the trusted proxies in front of us saw (TRUSTED_PROXY_COUNT hops)."""
    if request is None:
        return ""
    candidate = request.META.get("REMOTE_ADDR", "")
    hops = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if hops:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        # The last `hops` entries were appended by our own proxies; the one before them is the client.
        if len(forwarded) >= hops:
            candidate = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return ""


def is_valid_request_id(value: str) -> bool:
    return bool(_REQUEST_ID.match(value or ""))
