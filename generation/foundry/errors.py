"""Typed errors for every failure shape of the Foundry image API, and the mapping from responses.

`retryable` is the one switch the retry policy reads: only rate limits and transient faults
are worth another attempt; a refused prompt or a bad parameter fails the same way twice.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

CONTENT_FILTER_CODES = frozenset({"contentfilter", "content_filter", "content_policy_violation", "moderation_blocked"})
# Azure's inner code for a Responsible AI refusal, whatever the outer code says.
RESPONSIBLE_AI_INNER_CODE = "responsibleaipolicyviolation"
# Codes that mean the image came out and was blocked, not the prompt going in.
OUTPUT_STAGE_CODES = frozenset({"moderation_blocked"})
REQUEST_ID_HEADERS = ("apim-request-id", "x-request-id", "x-ms-request-id")
MAX_MESSAGE_CHARS = 500
REDACTED = "********"


class FilterStage(StrEnum):
    INPUT = "input"
    OUTPUT = "output"


@dataclass(frozen=True)
class FilterResult:
    """One content-safety category as the service judged it (hate, sexual, violence, self_harm,
    and whatever else it reports: jailbreak, profanity, custom blocklists)."""

    category: str
    filtered: bool
    severity: str | None = None
    detected: bool | None = None


class FoundryError(Exception):
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        provider_request_id: str | None = None,
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.code = code
        self.provider_request_id = provider_request_id
        # Set by the retry policy: how many HTTP attempts were made before giving up.
        self.attempts = 1
        super().__init__(message)

    def __str__(self) -> str:
        details = [f"HTTP {self.status_code}" if self.status_code else None, f"code={self.code}" if self.code else None]
        if self.provider_request_id:
            details.append(f"request id {self.provider_request_id}")
        if self.attempts > 1:
            details.append(f"after {self.attempts} attempts")
        shown = ", ".join(d for d in details if d)
        return f"{self.message} ({shown})" if shown else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class ContentFilteredError(FoundryError):
    def __init__(
        self, message: str, *, stage: FilterStage, results: tuple[FilterResult, ...] = (), **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.stage = stage
        self.results = results

    @property
    def filtered_categories(self) -> tuple[str, ...]:
        return tuple(r.category for r in self.results if r.filtered)

    def __str__(self) -> str:
        cats = ", ".join(self.filtered_categories) or "unspecified"
        return f"{super().__str__()} [stage={self.stage}, categories={cats}]"


class RateLimitedError(FoundryError):
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        quota_headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        # Seconds the service asked us to wait, when it said.
        self.retry_after = retry_after
        self.quota_headers = dict(quota_headers or {})


class TransientError(FoundryError):
    retryable = True


class DeploymentNotFoundError(FoundryError):
    """404: the deployment does not exist (deleted, misnamed, another region): refused before generating."""


class UnreachableError(TransientError):
    """Nothing reached the service (connection refused, DNS, TLS, a connect timeout, no pooled connection):
    it generated nothing and billed nothing, so the call may go again, here or to another deployment."""


class UnknownOutcomeError(FoundryError):
    """The request was sent and no answer came back (a read timeout, the connection lost after sending): the
    service may have generated and billed it. Never retried by the client: calling again could pay twice, so
    whether to call again is the job's decision (a tenant setting), and the call stays a provisional charge."""


class InvalidRequestError(FoundryError):
    def __init__(self, message: str, *, param: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.param = param

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} [param={self.param}]" if self.param else text


class AuthenticationError(FoundryError):
    pass


# The code of an AuthenticationError raised before connecting: a tenant's deployment whose host name resolves to an
# internal address (generation.foundry.client.InternalEndpointError).
ENDPOINT_INTERNAL_ADDRESS = "endpoint_internal_address"


class MalformedResponseError(FoundryError):
    pass


def redact(text: str, secrets: Iterable[str]) -> str:
    """Remove credential values from text the service sent back (a proxy may echo headers)."""
    for value in secrets:
        if value:
            text = text.replace(value, REDACTED)
    return text


def provider_request_id(headers: Mapping[str, str]) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def quota_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The deployment's quota as the service reports it (x-ratelimit-limit/remaining-requests/-tokens)."""
    return {name.lower(): value for name, value in headers.items() if name.lower().startswith("x-ratelimit-")}


_RETRY_AFTER_IN_MESSAGE = re.compile(r"(?:retry after|try again in) (\d+(?:\.\d+)?) seconds?", re.IGNORECASE)


def retry_after_seconds(headers: Mapping[str, str], message: str = "", *, now: float | None = None) -> float | None:
    """The wait the service asked for: `retry-after-ms`, then `retry-after` (seconds or an
    HTTP date), then Azure's "Please retry after N seconds" (or "Try again in N seconds") in the message."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(raw).timestamp()
            except (TypeError, ValueError):
                when = None
            if when is not None:
                return max(0.0, when - (now if now is not None else time.time()))
    match = _RETRY_AFTER_IN_MESSAGE.search(message)
    return float(match.group(1)) if match else None


def error_from_response(
    *, status_code: int, headers: Mapping[str, str], body: bytes, secrets: Iterable[str] = ()
) -> FoundryError:
    """Map a non-2xx response to its typed error. `secrets` are scrubbed from any echoed text."""
    secrets = tuple(secrets)
    request_id = provider_request_id(headers)
    error = _error_object(body)
    code = _as_text(error.get("code")) if error else None
    message = _as_text(error.get("message")) if error else None
    if not message:
        message = _body_excerpt(body) or f"HTTP {status_code} from the image service"
    message = redact(message, secrets)[:MAX_MESSAGE_CHARS]
    common = {"status_code": status_code, "code": code, "provider_request_id": request_id}

    if status_code == 429:
        return RateLimitedError(
            message,
            retry_after=retry_after_seconds(headers, message),
            quota_headers=quota_headers(headers),
            **common,
        )
    if status_code in (401, 403):
        return AuthenticationError(message, **common)
    if status_code == 404:
        return DeploymentNotFoundError(message, **common)
    if status_code >= 500 or status_code in (408, 409):
        # 408 (timeout) and 409 (conflicting operation in progress) clear up on their own.
        return TransientError(message, **common)
    if error and _is_content_filter(error):
        return ContentFilteredError(
            message, stage=_filter_stage(error, message), results=_filter_results(error), **common
        )
    param = _as_text(error.get("param")) if error else None
    return InvalidRequestError(message, param=param, **common)


def content_filter_from_output(item: Mapping[str, Any], *, request_id: str | None) -> ContentFilteredError | None:
    """A 200 whose image was withheld: Azure puts the judgement beside (instead of) the bytes."""
    results = _parse_categories(item.get("content_filter_results"))
    if not any(r.filtered for r in results):
        return None
    return ContentFilteredError(
        "The generated image was filtered by the service's safety system",
        status_code=200,
        code="content_filter",
        provider_request_id=request_id,
        stage=FilterStage.OUTPUT,
        results=results,
    )


def _error_object(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(parsed, dict):
        return None
    inner = parsed.get("error")
    if isinstance(inner, dict):
        return inner
    if isinstance(inner, str):
        return {"message": inner, "code": parsed.get("code")}
    # API Management answers with {"statusCode": 401, "message": "..."}.
    if "message" in parsed:
        return {"message": parsed.get("message"), "code": parsed.get("code") or parsed.get("statusCode")}
    return None


def _inner(error: Mapping[str, Any]) -> dict[str, Any]:
    inner = error.get("inner_error") or error.get("innererror") or error.get("innerError")
    return inner if isinstance(inner, dict) else {}


def _is_content_filter(error: Mapping[str, Any]) -> bool:
    codes = {(_as_text(error.get("code")) or "").lower(), (_as_text(_inner(error).get("code")) or "").lower()}
    return bool(codes & CONTENT_FILTER_CODES) or RESPONSIBLE_AI_INNER_CODE in codes


def _filter_stage(error: Mapping[str, Any], message: str) -> FilterStage:
    inner = _inner(error)
    for explicit in (inner.get("stage"), inner.get("source"), error.get("stage")):
        if _as_text(explicit) in (FilterStage.INPUT, FilterStage.OUTPUT):
            return FilterStage(_as_text(explicit))
    if (_as_text(error.get("code")) or "").lower() in OUTPUT_STAGE_CODES:
        return FilterStage.OUTPUT
    if any(key in inner for key in ("output_content_filter_results", "content_filter_results_output")):
        return FilterStage.OUTPUT
    lowered = message.lower()
    if "generated image" in lowered or "output image" in lowered or "image output" in lowered:
        return FilterStage.OUTPUT
    return FilterStage.INPUT


def _filter_results(error: Mapping[str, Any]) -> tuple[FilterResult, ...]:
    inner = _inner(error)
    for key in (
        "content_filter_results",
        "content_filter_result",
        "output_content_filter_results",
        "content_filter_results_output",
    ):
        if key in inner:
            return _parse_categories(inner[key])
    if "content_filter_results" in error:
        return _parse_categories(error["content_filter_results"])
    return ()


def _parse_categories(raw: Any) -> tuple[FilterResult, ...]:
    if not isinstance(raw, dict):
        return ()
    results = []
    for category, judgement in raw.items():
        if isinstance(judgement, dict) and ("filtered" in judgement or "severity" in judgement):
            results.append(
                FilterResult(
                    category=str(category),
                    filtered=bool(judgement.get("filtered", False)),
                    severity=_as_text(judgement.get("severity")),
                    detected=judgement.get("detected") if isinstance(judgement.get("detected"), bool) else None,
                )
            )
    return tuple(results)


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value)


def _body_excerpt(body: bytes) -> str:
    text = body[:MAX_MESSAGE_CHARS].decode("utf-8", errors="replace").strip()
    return " ".join(text.split())
