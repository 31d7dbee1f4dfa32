"""The httpx client for image generations and edits on one Foundry deployment.

Synchronous on purpose: Celery workers run it in threads, and one `FoundryImageClient`
(one connection pool) can be shared by those threads.
"""

from __future__ import annotations

import functools
import logging
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypedDict, Unpack

import certifi
import httpx
from django.conf import settings

from dam.formats import FORMATS, GENERATED_FORMATS, sniff_format
from dam.webhooks.targets import (
    CheckedTarget,
    IPAddress,
    Unresolvable,
    UnsafeTarget,
    checked_addresses,
    pinned_request,
)
from generation.foundry.auth import auth_for
from generation.foundry.config import ApiStyle, AuthKind, DeploymentConfig
from generation.foundry.errors import (
    ENDPOINT_INTERNAL_ADDRESS,
    AuthenticationError,
    FoundryError,
    UnknownOutcomeError,
    UnreachableError,
    error_from_response,
    provider_request_id,
    quota_headers,
    redact,
)
from generation.foundry.results import ImageResult, parse_image_response
from generation.foundry.retry import retrying_for

logger = logging.getLogger("generation.foundry")

USER_AGENT = "dam-platform-foundry-client/1"
# Our own correlation id, echoed by Azure in its logs and support tickets.
CLIENT_REQUEST_ID_HEADER = "x-ms-client-request-id"
# A floor for the last attempt's read timeout when the retry budget is nearly spent.
MIN_ATTEMPT_TIMEOUT_SECONDS = 1.0
# Failures before the request left: connecting (refused, DNS, TLS, connect timeout), waiting for a pooled
# connection, or writing the request (an incomplete request is never processed). Everything else after
# `send` began may have reached the service.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteError, httpx.WriteTimeout)


class ImageOptions(TypedDict, total=False):
    """The image options generations and edits share, as the Images API names them; None leaves one out."""

    size: str | None
    quality: str | None
    n: int
    output_format: str | None
    output_compression: int | None
    background: str | None
    moderation: str | None


@dataclass(frozen=True)
class EditImage:
    """An input image for an edit: its bytes, a file name and content type for the multipart part."""

    data: bytes
    filename: str = "image.png"
    content_type: str = "image/png"

    def __repr__(self) -> str:
        return f"EditImage({self.filename!r}, {self.content_type!r}, bytes={len(self.data)})"


ImageInput = bytes | EditImage


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=certifi.where())


# A shared client (`shared_client`) has one call per worker thread in flight: keep all their connections open between
# calls, not httpx's default 20. An idle one is dropped after 4 s, before servers with a 5 s idle timeout (uvicorn's
# default) close it under a request just sent on it (seen as a transport error, retried after the back-off: a second
# lost).
_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=None, keepalive_expiry=4.0)


class InternalEndpointError(AuthenticationError):
    """A tenant's deployment whose host name resolves to an internal address (loopback, private, link-local such as
    the cloud metadata service, or an IPv6 form carrying one): refused before connecting, so neither the prompt nor
    the api-key leaves.

    An AuthenticationError for the callers' classification, which is what it is to them: the deployment's own
    configuration refuses the call before anything is generated, and does again on a retry. The pool moves the call
    to another of its deployments (generation.services.calls), and a job with none left fails without job retries.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, code=ENDPOINT_INTERNAL_ADDRESS)


def _private_targets_allowed() -> bool:
    return settings.TENANT_ENDPOINTS_ALLOW_PRIVATE


class PublicOnlyTransport(httpx.BaseTransport):
    """For a deployment a tenant chose (`DeploymentConfig.public_only`): each request's host is resolved once, the
    request is refused when any answer is an internal address (dam.webhooks.targets.refusal), and it is sent to a
    checked address, never to a second answer of the resolver (DNS rebinding: public when registered or a moment
    ago, 127.0.0.1 now). The Host header, the TLS server name (SNI) and certificate verification keep the host name
    (dam.webhooks.targets.pinned_request). TENANT_ENDPOINTS_ALLOW_PRIVATE (development, tests) lifts the refusal,
    not the pinning.

    Connections are pooled per checked address; one opened before a resolution changed may carry a later request
    only to its own (checked) address. No HTTP(S)_PROXY of the environment is used: a proxy would resolve the name
    itself, after the check.
    """

    def __init__(self, inner: httpx.BaseTransport, *, allow_private: Callable[[], bool] = _private_targets_allowed):
        self._inner = inner
        self._allow_private = allow_private

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        host = url.raw_host.decode("ascii")  # IDNA-encoded: what the resolver is asked
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            addresses = checked_addresses(host, port, allow_private=self._allow_private())
        except Unresolvable:
            # A DNS failure, as httpx would report it: nothing was sent, the call may go elsewhere or again.
            raise httpx.ConnectError(f"{host} does not resolve", request=request) from None
        except UnsafeTarget as refused:
            raise InternalEndpointError(
                f"endpoint refused: {host} resolves to an internal address ({refused.message}); nothing was sent"
            ) from None
        target = CheckedTarget(url=str(url), hostname=host, addresses=addresses)
        *others, last = addresses
        for address in others:
            try:
                return self._inner.handle_request(_pinned(request, target, address))
            except httpx.ConnectError:
                continue  # nothing was sent: the next checked address
        return self._inner.handle_request(_pinned(request, target, last))

    def close(self) -> None:
        self._inner.close()


def _pinned(request: httpx.Request, target: CheckedTarget, address: IPAddress) -> httpx.Request:
    url, host_header, extensions = pinned_request(target, address)
    headers = request.headers.copy()
    headers.update(host_header)
    # The same body stream: a connection refused before sending left it unread.
    return httpx.Request(
        request.method, url, headers=headers, stream=request.stream, extensions={**request.extensions, **extensions}
    )


_SHARED_MAX = 64
_shared: OrderedDict[DeploymentConfig, FoundryImageClient] = OrderedDict()
_shared_lock = threading.Lock()


def shared_client(config: DeploymentConfig) -> FoundryImageClient:
    """The process's client for this deployment configuration (httpx clients are thread-safe).

    Jobs reuse its open connections: no TCP and TLS handshake per job (CPU here and at the provider, and
    a round trip or two before each call). A changed configuration (a rotated key) is a new key here; an
    Entra token provider is not part of the key (configurations equal but for it share the first's).
    """
    with _shared_lock:
        client = _shared.get(config)
        if client is None:
            client = _shared[config] = FoundryImageClient(config)
            if len(_shared) > _SHARED_MAX:
                # Not closed: another thread may be mid-call on it; its connections close when it is collected.
                _shared.popitem(last=False)
        else:
            _shared.move_to_end(config)
        return client


class FoundryImageClient:
    def __init__(
        self,
        config: DeploymentConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.config = config
        self._sleep = sleep
        if config.public_only:
            # A given transport (tests) is wrapped too: the check is the configuration's, not the caller's choice.
            transport = PublicOnlyTransport(
                transport or httpx.HTTPTransport(verify=shared_ssl_context(), limits=_LIMITS)
            )
        self._http = httpx.Client(
            auth=auth_for(config),
            timeout=httpx.Timeout(config.read_timeout_seconds, connect=config.connect_timeout_seconds),
            headers={"user-agent": USER_AGENT},
            transport=transport,
            follow_redirects=False,  # a redirect would carry the api-key to wherever it points
            # Loading the CA bundle costs ~17 ms of CPU; one context serves every client of the process.
            verify=shared_ssl_context(),
            limits=_LIMITS,
        )

    def __repr__(self) -> str:
        return f"FoundryImageClient({self.config.name!r}, {self.config.endpoint!r}, {self.config.deployment!r})"

    def __enter__(self) -> FoundryImageClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def generate(
        self,
        *,
        prompt: str,
        client_request_id: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        before_retry: Callable[[], object] | None = None,
        **options: Unpack[ImageOptions],
    ) -> ImageResult:
        body = self._params(prompt=prompt, **options)

        def build() -> httpx.Request:
            return self._http.build_request(
                "POST",
                self.config.images_url("generations"),
                params=self.config.query_params(),
                json=body,
                headers=self._headers(client_request_id, extra_headers),
            )

        return self._call("generations", build, before_retry=before_retry)

    def edit(
        self,
        *,
        prompt: str,
        image: ImageInput | Sequence[ImageInput],
        mask: ImageInput | None = None,
        client_request_id: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        before_retry: Callable[[], object] | None = None,
        **options: Unpack[ImageOptions],
    ) -> ImageResult:
        fields = {key: str(value) for key, value in self._params(prompt=prompt, **options).items()}
        images = [image] if isinstance(image, bytes | EditImage) else list(image)
        if not images:
            raise ValueError("an edit needs at least one input image")
        # One image goes as `image`; several as `image[]`, as the OpenAI SDKs send them.
        image_field = "image" if len(images) == 1 else "image[]"
        files = [(image_field, _file_part(item, index)) for index, item in enumerate(images)]
        if mask is not None:
            files.append(("mask", _file_part(mask, 0, default_name="mask.png")))

        def build() -> httpx.Request:
            return self._http.build_request(
                "POST",
                self.config.images_url("edits"),
                params=self.config.query_params(),
                data=fields,
                files=files,
                headers=self._headers(client_request_id, extra_headers),
            )

        return self._call("edits", build, before_retry=before_retry)

    def _params(self, *, n: int = 1, **optional: Any) -> dict[str, Any]:
        params: dict[str, Any] = {key: value for key, value in optional.items() if value is not None}
        params["n"] = n
        if self.config.api_style is ApiStyle.V1:
            params["model"] = self.config.deployment
        return params

    def _headers(self, client_request_id: str | None, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        for reserved in ("api-key", "authorization"):
            if any(name.lower() == reserved for name in headers):
                raise ValueError(f"extra_headers must not set {reserved}: credentials come from the deployment")
        if client_request_id:
            headers[CLIENT_REQUEST_ID_HEADER] = client_request_id
        return headers

    def _secrets(self) -> tuple[str, ...]:
        if self.config.auth_kind is AuthKind.API_KEY and self.config.api_key is not None:
            return (self.config.api_key.reveal(),)
        return ()

    def _call(
        self, operation: str, build: Callable[[], httpx.Request], *, before_retry: Callable[[], object] | None = None
    ) -> ImageResult:
        """`before_retry` runs before every attempt but the first: a retry is a request the deployment's
        quota counts too, so the caller's rate limiter must admit it like the first (its exceptions end the call)."""
        started = time.monotonic()
        retrying = retrying_for(self.config, sleep=self._sleep)
        attempt_number = 0
        try:
            for attempt in retrying:
                with attempt:
                    attempt_number = attempt.retry_state.attempt_number
                    if attempt_number > 1 and before_retry is not None:
                        before_retry()
                    remaining = self.config.max_retry_seconds - (time.monotonic() - started)
                    result = self._attempt(operation, build(), remaining=remaining, attempt_number=attempt_number)
        except FoundryError as exc:
            exc.attempts = attempt_number
            logger.warning("foundry %s failed on %s: %s", operation, self.config.name, exc)
            raise
        return _with_timing(result, elapsed=time.monotonic() - started, attempts=attempt_number)

    def _attempt(self, operation: str, request: httpx.Request, *, remaining: float, attempt_number: int) -> ImageResult:
        # The whole call is bounded in time: the last attempt may not read past the budget.
        read_timeout = min(self.config.read_timeout_seconds, max(remaining, MIN_ATTEMPT_TIMEOUT_SECONDS))
        request.extensions["timeout"] = httpx.Timeout(
            read_timeout, connect=self.config.connect_timeout_seconds
        ).as_dict()
        sent = time.monotonic()
        try:
            response = self._http.send(request)
        except _NOT_SENT as exc:
            # The exception text can hold the URL but never headers; still, redact defensively.
            detail = redact(str(exc), self._secrets())[:200]
            raise UnreachableError(
                f"{operation} could not reach the service ({type(exc).__name__}: {detail})"
            ) from None
        except httpx.TimeoutException as exc:
            raise UnknownOutcomeError(
                f"{operation} sent, no answer: timed out after {time.monotonic() - sent:.1f}s ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            detail = redact(str(exc), self._secrets())[:200]
            raise UnknownOutcomeError(
                f"{operation} sent, connection lost before the answer ({type(exc).__name__}: {detail})"
            ) from None
        latency = time.monotonic() - sent
        request_id = provider_request_id(response.headers)
        logger.info(
            "foundry %s on %s: HTTP %d in %.2fs (attempt %d, request id %s)",
            operation,
            self.config.name,
            response.status_code,
            latency,
            attempt_number,
            request_id,
        )
        if response.status_code >= 300:
            raise error_from_response(
                status_code=response.status_code,
                headers=response.headers,
                body=response.content,
                secrets=self._secrets(),
            )
        parsed = parse_image_response(response.content, provider_request_id=request_id)
        return ImageResult(
            outputs=parsed.outputs,
            usage=parsed.usage,
            provider_request_id=request_id,
            latency_seconds=latency,
            elapsed_seconds=latency,
            attempts=attempt_number,
            created=parsed.created,
            output_format=parsed.output_format,
            size=parsed.size,
            quality=parsed.quality,
            background=parsed.background,
            quota_headers=quota_headers(response.headers),
        )


def _file_part(item: ImageInput, index: int, *, default_name: str | None = None) -> tuple[str, bytes, str]:
    if isinstance(item, EditImage):
        return (item.filename, item.data, item.content_type)
    if not isinstance(item, bytes):
        raise TypeError("edit images are bytes or EditImage")
    kind = sniff_format(item)
    if kind not in GENERATED_FORMATS:
        kind = "png"  # the service takes PNG, JPEG and WebP; anything else goes labelled as PNG
    return (default_name or f"image-{index}.{kind}", item, FORMATS[kind].content_type)


def _with_timing(result: ImageResult, *, elapsed: float, attempts: int) -> ImageResult:
    return replace(result, elapsed_seconds=elapsed, attempts=attempts)
