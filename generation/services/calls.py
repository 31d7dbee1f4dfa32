"""One unit's provider call through its tenant's pool: wait for the scheduler's turn, record, send, classify.

Failover only where it is safe. A call moves to another deployment (or waits for the same one's quota) only when
the service refused it before generating anything: 401/403, 404 (no such deployment), 429, or nothing reached it
(connection refused, DNS, TLS, connect timeout). An answered 5xx is retried after a backoff (the provider bills no
failed request; the pool's breaker opens on a burst of them). A timeout or a connection lost after the request
was sent is an unknown outcome: never sent again here; the attempt becomes a provisional charge and the job
decides (`retry_unknown_outcome`). Every send is a `ProviderAttempt` committed before it leaves.

The HTTP client makes single attempts on this path: its own retry loop would resend to the same deployment
behind the scheduler's back.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import connection

from dam.blobs import blob_read
from dam.imaging import resize_exact
from generation.dispatch import BreakerChange, Grant, Lane, NoAllowedMember, Outcome
from generation.foundry.client import EditImage, FoundryImageClient, shared_client
from generation.foundry.config import DeploymentConfig
from generation.foundry.errors import (
    AuthenticationError,
    DeploymentNotFoundError,
    FoundryError,
    MalformedResponseError,
    RateLimitedError,
    TransientError,
    UnknownOutcomeError,
    UnreachableError,
)
from generation.foundry.results import ImageResult
from generation.models import AttemptState, Job, JobGeneration
from generation.pacing import call_slot, prepared
from generation.selectors.pools import Route
from generation.services.attempts import attempt_record, attempt_resolve, attempt_unknown
from generation.services.breakers import breaker_changed
from generation.sizing import output_tokens
from governance.safety.policy import SafetyPolicy

logger = logging.getLogger(__name__)

# Refused before anything was generated: safe to send elsewhere.
_PRE_GENERATION = (AuthenticationError, DeploymentNotFoundError, UnreachableError)


class LeaseLost(Exception):
    """This run no longer holds the job (reclaimed after its lease ran out, or a cancel was asked for)."""


class NoRoute(FoundryError):
    """No deployment of the tenant's pool may serve it (its data residency excludes them all, or all are off)."""


@dataclass(frozen=True)
class Answer:
    result: ImageResult
    call_id: str
    config: DeploymentConfig  # the deployment that answered


@dataclass(frozen=True)
class CallContext:
    route: Route
    policy: SafetyPolicy
    owner: str  # this run's lease
    renew_lease: Callable[[], bool]


def _single_attempt(config: DeploymentConfig) -> DeploymentConfig:
    return dataclasses.replace(config, max_attempts=1)


def _estimated_tokens(job: Job, unit: JobGeneration) -> int:
    return output_tokens(unit.width, unit.height, job.quality) * job.n + len(unit.compiled_prompt) // 2


def unit_call(*, job: Job, unit: JobGeneration, context: CallContext) -> Answer:
    """Send the unit's call to a deployment of its tenant's pool, moving it only where that is safe.

    Raises the provider's error when the call cannot be made (all deployments refused it, the retry budget is
    spent), UnknownOutcomeError after a send without an answer, LeaseLost, or RateLimitTimeout (no turn in time)."""
    route = context.route
    dispatcher = route.dispatcher()
    lane = Lane.INTERACTIVE if job.priority == Job.Priority.INTERACTIVE else Lane.BULK
    tokens = _estimated_tokens(job, unit)
    member_tpm = {member.key: member.tpm for member in route.members}
    excluded: set[str] = set()
    started = time.monotonic()
    sends = 0
    # The quota wait and the call take seconds to minutes: give the pooled connection back for both,
    # or a node's threads queue for the pool (and time out) instead of waiting for the provider.
    connection.close()
    prepared()  # the quota wait and the call: the next job may prepare meanwhile
    while True:
        ticket = uuid.uuid4().hex
        try:
            grant = dispatcher.acquire(
                ticket=ticket,
                tenant=str(job.tenant_id),
                lane=lane,
                tokens=tokens,
                timeout=settings.FOUNDRY_QUOTA_WAIT_SECONDS,
                tenant_weight=route.weight,
                max_share=route.max_share,
                allowed=route.allowed,
                exclude=excluded,
            )
        except NoAllowedMember as exc:
            raise NoRoute(
                f"no deployment of the pool may serve this tenant ({exc}); check its data residency and the "
                "pool's enabled deployments"
            ) from None
        admitted = min(tokens, member_tpm.get(grant.member) or tokens)
        # Renewed right before each call, after the quota wait that can outlast the lease: a run whose job was
        # reclaimed meanwhile (a second, concurrent run) or asked to cancel never pays for a call.
        if not context.renew_lease():
            dispatcher.release(grant=grant, tokens=admitted)
            raise LeaseLost
        config = route.configs[grant.member]
        call_id = f"job-{job.pk}-{unit.pk}-{ticket[:8]}"
        attempt_record(
            job=job,
            unit=unit,
            call_id=call_id,
            deployment=config.name,
            region=route.regions[grant.member],
            queue_wait_ms=round(grant.waited_seconds * 1000),
        )
        connection.close()
        send = _request(job, unit, shared_client(_single_attempt(config)), context.policy, call_id=call_id)
        sends += 1
        try:
            return Answer(_send(route, grant, admitted, send, call_id=call_id), call_id, config)
        except _NotSent:
            attempt_resolve(tenant_id=job.tenant_id, call_id=call_id, state=AttemptState.REFUSED)
            continue
        except (UnknownOutcomeError, MalformedResponseError) as exc:
            # No answer, or a 2xx whose body could not be read (the service generated and billed it; its usage is
            # lost with the body): either way the call may be on the bill, so it is a provisional charge.
            attempt_unknown(job=job, call_id=call_id, reason=str(exc))
            raise
        except (RateLimitedError, *_PRE_GENERATION) as exc:
            attempt_resolve(
                tenant_id=job.tenant_id, call_id=call_id, state=AttemptState.REFUSED, detail=_detail(exc, grant)
            )
            if not isinstance(exc, RateLimitedError):
                excluded.add(grant.member)  # a 429 is the quota's: the dispatcher holds that member until retry-after
            if _budget_spent(config, sends, started, len(route.allowed)) or not (route.allowed - excluded):
                raise
            logger.info("call %s refused by %s before generating (%s): sent elsewhere", call_id, config.name, exc)
        except TransientError as exc:  # an answered 5xx: nothing billed, the same call may go again
            attempt_resolve(
                tenant_id=job.tenant_id, call_id=call_id, state=AttemptState.FAILED, detail=_detail(exc, grant)
            )
            if _budget_spent(config, sends, started, len(route.allowed)):
                raise
            time.sleep(_backoff(config, sends))
        except FoundryError as exc:  # a refusal of this request (content, parameters, malformed answer)
            attempt_resolve(
                tenant_id=job.tenant_id, call_id=call_id, state=AttemptState.FAILED, detail=_detail(exc, grant)
            )
            raise


class _NotSent(Exception):
    """The grant expired before the call could leave (every call slot busy for a whole window): not sent."""


def _send(route: Route, grant: Grant, admitted: int, send: Callable[[], ImageResult], *, call_id: str) -> ImageResult:
    dispatcher = route.dispatcher()
    with call_slot():
        # Under load the bookkeeping above can take longer than the window's margin: the slot starts as the call
        # leaves (the provider counts a call from its arrival). A grant that expired meanwhile is spent.
        leaves_at = dispatcher.restamp(grant=grant, tokens=admitted)
        if leaves_at is None:
            raise _NotSent
        # bench/quota.py reads it next to the provider's arrival stamp of the same x-ms-client-request-id.
        logger.debug("quota: call %s leaves at %.6f", call_id, leaves_at)
        sent = time.monotonic()
        try:
            result = send()
        except FoundryError as exc:
            latency = time.monotonic() - sent
            _record(route, grant, _outcome_of(exc), latency, _answer_headers(exc))
            raise
        _record(route, grant, Outcome.SUCCESS, time.monotonic() - sent, result.quota_headers)
        return result


def _record(route: Route, grant: Grant, outcome: Outcome, latency: float, headers) -> None:
    change: BreakerChange | None = route.dispatcher().record_outcome(
        member=grant.member, outcome=outcome, latency_seconds=latency, headers=headers, probe=grant.probe
    )
    if change is not None:
        breaker_changed(route=route, change=change)


def _answer_headers(exc: FoundryError) -> dict[str, str] | None:
    """What the dispatcher learns from a refusal: the quota headers, and a 429's retry-after (without it the member
    would be held only one slot's time and asked again at once)."""
    headers = dict(getattr(exc, "quota_headers", None) or {})
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["retry-after-ms"] = str(round(retry_after * 1000))
    return headers or None


def _outcome_of(exc: FoundryError) -> Outcome:
    if isinstance(exc, UnknownOutcomeError):
        return Outcome.UNKNOWN
    if isinstance(exc, RateLimitedError):
        return Outcome.THROTTLED
    if isinstance(exc, _PRE_GENERATION):
        return Outcome.PRE_GENERATION
    if isinstance(exc, TransientError):
        return Outcome.SERVER_ERROR
    # The deployment answered (a content refusal, a bad parameter, a malformed body): it is up.
    return Outcome.SUCCESS


def _detail(exc: FoundryError, grant: Grant) -> dict:
    return {"error": type(exc).__name__, "status": exc.status_code, "member": grant.member, "message": str(exc)[:300]}


def _budget_spent(config: DeploymentConfig, sends: int, started: float, members: int) -> bool:
    """One call's sends are bounded like the client's retries were: attempts (at least one per allowed
    deployment, so a failover can try each) and total time."""
    return sends >= max(config.max_attempts, members + 1) or time.monotonic() - started >= config.max_retry_seconds


def _backoff(config: DeploymentConfig, sends: int) -> float:
    wait = min(config.backoff_initial_seconds * 2 ** (sends - 1), config.backoff_max_seconds)
    return wait + random.uniform(0, config.backoff_initial_seconds)


def _request(
    job: Job, unit: JobGeneration, client: FoundryImageClient, policy: SafetyPolicy, *, call_id: str
) -> Callable[[], ImageResult]:
    common = {
        "prompt": unit.compiled_prompt,
        "size": f"{unit.width}x{unit.height}",
        "quality": job.quality,
        "n": job.n,
        "output_format": job.output_format,
        "output_compression": job.output_compression,
        "background": job.background if job.background != "auto" else None,
        "moderation": policy.provider_moderation,
        "client_request_id": call_id,
    }
    if job.kind == Job.Kind.EDIT:
        # An edit's images are read and sized before its slot.
        source = resize_exact(blob_read(job.source_version.storage_key), width=unit.width, height=unit.height)
        mask = None
        if job.mask_key:
            mask_image = resize_exact(blob_read(job.mask_key), width=unit.width, height=unit.height)
            mask = EditImage(mask_image.data, "mask.png")
        return partial(client.edit, image=EditImage(source.data, "image.png"), mask=mask, **common)
    return partial(client.generate, **common)
