"""Running a job: claim it, make each provider call once, store the outputs, finish.

Every step is safe to repeat. A job is claimed with a conditional UPDATE under a lease; a
redelivered message for a finished or freshly claimed job finds nothing to do. Each claim is one
attempt, bounded by JOB_MAX_ATTEMPTS. An answer's images are stored (content-addressed) before the
transaction that records the response with their references and its charge (unique on the provider
request id), so a recorded response can always be finished from: a unit with one is never called again.

Each output is moderated before it becomes a version (its verdict is kept with the response, so a
re-run does not scan again); a provider refusal becomes a verdict on the job, in the same model.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from dam.blobs import blob_intact
from generation.crashpoints import crash_point
from generation.dispatch import RateLimitTimeout as QuotaTimeout
from generation.foundry.config import DeploymentConfig
from generation.foundry.errors import (
    ENDPOINT_INTERNAL_ADDRESS,
    AuthenticationError,
    ContentFilteredError,
    FoundryError,
    InvalidRequestError,
    UnknownOutcomeError,
)
from generation.foundry.results import ImageResult, Usage
from generation.lifecycle import TERMINAL_STATES, GenerationState, JobState, allowed_sources
from generation.models import Job, JobGeneration, ProviderResponse, RetryUnknownOutcome
from generation.pacing import finishing, prepared, preparing
from generation.selectors.pools import Route, route_for
from generation.services.attempts import (
    attempt_answered,
    attempts_orphaned,
    most_unknown_attempts,
)
from generation.services.calls import CallContext, LeaseLost, NoRoute, unit_call
from generation.services.completion import job_finished
from generation.services.outputs import (
    SignerUnavailable,
    job_safety_policy,
    moderate_outputs,
    output_blocked,
    output_provenance,
    output_signer,
    outputs_persist,
    prepare_renditions,
    refs_moderated,
    store_output_blobs,
)
from generation.sizing import output_tokens
from governance.safety.backends import ModerationBackend, ModerationError, ModerationUnavailable, moderation_backend
from governance.safety.policy import SafetyPolicy
from governance.safety.verdicts import Stage, provider_refusal_verdict
from tenants.audit import Actor, audit, audit_deferred

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOutcome:
    state: str | None  # the state this run left the job in; None when there was nothing to do
    retry_in: float | None = None  # seconds until the job should run again


def _jobs(job: Job):
    return Job.objects.for_tenant(job.tenant_id).filter(pk=job.pk)


def job_claim(*, job_id: int, owner: str) -> Job | None:
    """Take the job for `owner`: a queued job, a running one whose lease ran out, or one this owner
    already holds (its own task retried after a database error must not wait for its own lease)."""
    now = timezone.now()
    claimable = (
        Q(state=JobState.QUEUED)
        | Q(state=JobState.RUNNING, lease_expires_at__lt=now)
        | Q(state=JobState.RUNNING, lease_owner=owner)
    )
    claimed = (
        Job.unscoped.filter(claimable, pk=job_id)
        .filter(state__in=allowed_sources(JobState.RUNNING))
        .update(
            state=JobState.RUNNING,
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=settings.JOB_LEASE_SECONDS),
            attempts=F("attempts") + 1,
            started_at=now,
            updated_at=now,
        )
    )
    if not claimed:
        return None
    return Job.unscoped.select_related(
        "tenant", "source_version", "collection", "requested_by", "requested_by_key", "brand_policy", "safety_config"
    ).get(pk=job_id)


@transaction.atomic(savepoint=False)  # nested in a unit's transaction, a failure fails that one anyway
@audit_deferred()
def _transition(job: Job, owner: str, new_state: str, **fields) -> bool:
    now = timezone.now()
    if new_state in TERMINAL_STATES:
        fields.setdefault("finished_at", now)
    moved = (
        _jobs(job)
        .filter(state__in=allowed_sources(new_state), lease_owner=owner)
        .update(state=new_state, updated_at=now, **fields)
    )
    if moved:
        job.state = new_state
        for name, value in fields.items():
            setattr(job, name, value)
        if new_state in TERMINAL_STATES:
            job_finished(job=job)
    return bool(moved)


def _renew_lease(job: Job, owner: str) -> bool:
    """Extend this run's lease, unless a cancel was asked for (or someone reclaimed the job)."""
    expires = timezone.now() + timedelta(seconds=settings.JOB_LEASE_SECONDS)
    renewed = _jobs(job).filter(state=JobState.RUNNING, lease_owner=owner, cancel_requested=False)
    return bool(renewed.update(lease_expires_at=expires))


def _cancel_requested(job: Job) -> bool:
    return _jobs(job).filter(cancel_requested=True).exists()


def _record_response(
    job: Job,
    unit: JobGeneration,
    result: ImageResult,
    config: DeploymentConfig,
    *,
    outputs: list[dict],
    call_id: str | None = None,
) -> ProviderResponse:
    """Usage, the refs of its stored `outputs` and its charge, in one transaction, the moment the images are stored."""
    provider_request_id = result.provider_request_id or f"local-{uuid.uuid4()}"
    try:
        return _response_insert(job, unit, result, config, provider_request_id, outputs=outputs, call_id=call_id)
    except IntegrityError:
        # Recorded already (the same answer reached another run of this job): its charge came with it.
        return ProviderResponse.objects.for_tenant(job.tenant_id).get(provider_request_id=provider_request_id)


@transaction.atomic(durable=True)  # outermost: a duplicate rolls all of it back, nothing else
def _response_insert(
    job: Job,
    unit: JobGeneration,
    result: ImageResult,
    config: DeploymentConfig,
    provider_request_id: str,
    *,
    outputs: list[dict],
    call_id: str | None,
) -> ProviderResponse:
    usage = result.usage
    if not usage.reported:
        # The ledger must still charge something true-to-size: the published output formula, and
        # the prompt's UTF-8 length as an upper bound of its text tokens.
        usage = Usage(
            text_input_tokens=len(unit.compiled_prompt.encode()),
            output_tokens=output_tokens(unit.width, unit.height, job.quality) * len(result.outputs or [None]),
            reported=False,
        )
    response = ProviderResponse.objects.for_tenant(job.tenant_id).create(
        provider_request_id=provider_request_id,
        tenant_id=job.tenant_id,
        job=job,
        generation=unit,
        deployment=config.name,
        text_input_tokens=usage.text_input_tokens,
        image_input_tokens=usage.image_input_tokens,
        cached_text_input_tokens=usage.cached_text_input_tokens,
        cached_image_input_tokens=usage.cached_image_input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
        usage_reported=usage.reported,
        latency_ms=int(result.latency_seconds * 1000),
        outputs=outputs,
    )
    # Its charge, decided with its attempt (one confirmed charge per answer, whatever reconciliation did first).
    attempt_answered(job=job, unit=unit, response=response, call_id=call_id)
    return response


class ChargedWithoutImages(Exception):
    """A unit's answer is recorded and charged and its images cannot be had: finishing it is impossible, and calling
    the provider again would pay twice for one unit, so the job fails with `code` and `detail` saying why."""

    code = ""

    def __init__(self, response: ProviderResponse, message: str, **detail: object) -> None:
        super().__init__(f"provider response {response.provider_request_id} {message}; the call is not made again")
        self.response = response
        self.detail = {"provider_request_id": response.provider_request_id, **detail}


class OutputsNotStored(ChargedWithoutImages):
    """The provider answered and its images could not be stored (signing or storage failed): the answer is
    recorded and charged without images."""

    code = "outputs_not_stored"

    def __init__(self, response: ProviderResponse, cause: Exception) -> None:
        message = f"was charged but its images could not be stored ({type(cause).__name__}: {cause})"
        super().__init__(response, message, cause=type(cause).__name__)


class RecordedOutputsLost(ChargedWithoutImages):
    """A unit's recorded (and charged) response whose images cannot be read."""

    code = "outputs_lost"

    def __init__(self, response: ProviderResponse, missing: list[str]) -> None:
        what = f"{len(missing)} of its images are missing (or truncated)" if missing else "it has no output references"
        super().__init__(response, f"was recorded and charged but {what}", missing=missing)


def _recorded_response(unit: JobGeneration) -> ProviderResponse | None:
    """The unit's recorded answer, if any: every recorded response is reused, never paid for again.

    Since the images are stored before the response is recorded, a response without output refs is one
    recorded before that order (or a bug); one with refs is preferred if a unit somehow has several."""
    responses = ProviderResponse.objects.for_tenant(unit.tenant_id).filter(generation=unit).order_by("id")
    return responses.exclude(outputs=[]).first() or responses.first()


def _outputs_readable(response: ProviderResponse) -> None:
    missing = [ref["key"] for ref in response.outputs if not blob_intact(key=ref["key"], size=ref["size"])]
    if missing or not response.outputs:
        raise RecordedOutputsLost(response, missing)


@dataclass(frozen=True)
class _RunContext:
    route: Route
    policy: SafetyPolicy
    moderation: ModerationBackend
    owner: str  # this run's lease


def _run_unit(job: Job, unit: JobGeneration, run: _RunContext, *, then: Callable[[], object] | None = None) -> None:
    """Call (or reuse the recorded answer), store, moderate and persist one unit; `then` runs in the
    transaction of its versions (the job's terminal transition, after the last unit)."""
    # A unit never called has no recorded answer to reuse (its calls are counted before they are made).
    response = _recorded_response(unit) if unit.provider_calls else None
    if response is None and unit.provider_calls:
        _earlier_calls_settled(job, unit, run)
    answer = material = None
    if response is None:
        material = output_signer(job=job)  # before the call: a key that cannot sign fails the job unpaid
        context = CallContext(
            route=run.route, policy=run.policy, owner=run.owner, renew_lease=partial(_renew_lease, job, run.owner)
        )
        answer = unit_call(job=job, unit=unit, context=context)
    prepared()  # a recorded answer reused: no call, but nothing more to prepare either
    deployment = answer.config.name if answer is not None else response.deployment
    provenance = output_provenance(job=job, unit=unit, deployment=deployment)
    result = answer.result if answer is not None else None
    # Paced (generation.pacing): a round of answers that arrives together finishes first come, first served.
    with finishing():
        if result is not None:
            crash_point("answer_received")
            # The images are stored before the response and its charge are committed, under content-addressed
            # keys (a repeat writes nothing new): a recorded response is reusable from the moment it exists.
            # A crash before that commit loses the answer; its attempt stays `sent`, and the next run makes it a
            # provisional charge (reconciled with the provider's usage) before it calls again, if the tenant allows.
            try:
                refs, written = store_output_blobs(
                    job=job, outputs=result.outputs, provenance=provenance, material=material
                )
            except Exception as exc:
                # Not a crash (that leaves the attempt `sent`, above) but an error with the answer in hand: it is
                # recorded and charged as it is, and the unit is not called again (RecordedOutputsLost after).
                response = _record_response(job, unit, result, answer.config, outputs=[], call_id=answer.call_id)
                raise OutputsNotStored(response, exc) from exc
            crash_point("outputs_stored")
            response = _record_response(job, unit, result, answer.config, outputs=refs, call_id=answer.call_id)
            crash_point("response_recorded")
            # Scanned before any version exists: a blocked output never becomes visible, not even briefly.
            # (The response's own refs: another run may have recorded this very answer first.)
            refs = refs_moderated(
                refs=response.outputs,
                provider_request_id=response.provider_request_id,
                policy=run.policy,
                backend=run.moderation,
                written=written,
            )
            crash_point("output_scanned")
            _response_outputs_set(job, response, refs)  # the verdicts kept: a re-run does not scan again
            crash_point("verdicts_recorded")
        else:
            _outputs_readable(response)
            moderate_outputs(job=job, response=response, policy=run.policy, backend=run.moderation)
        renditions = [
            [] if output_blocked(ref) else prepare_renditions(job=job, unit=unit, output_ref=ref, provenance=provenance)
            for ref in response.outputs
        ]
        crash_point("renditions_stored")
        outputs_persist(job=job, unit=unit, response=response, renditions=renditions, then=partial(_persisted, then))
    crash_point("unit_stored")


class _UnknownOutcomeLimit(Exception):
    """A unit's earlier calls have unknown outcomes and the tenant's setting allows no further call."""

    def __init__(self, unknown: int) -> None:
        super().__init__(f"{unknown} call(s) of this unit ended without an answer")
        self.unknown = unknown


def _may_call_again(route: Route, unknown: int) -> bool:
    return route.retry_unknown_outcome == RetryUnknownOutcome.ONCE and unknown <= 1


def _earlier_calls_settled(job: Job, unit: JobGeneration, run: _RunContext) -> None:
    """The unit was called before and no answer is recorded: the calls still `sent` are unknown outcomes now
    (provisional charges); calling again is the tenant's decision (`retry_unknown_outcome`)."""
    unknown = attempts_orphaned(job=job, unit=unit)
    if unknown and not _may_call_again(run.route, unknown):
        raise _UnknownOutcomeLimit(unknown)


def _after_unknown_outcome(job: Job, owner: str, exc: Exception, route: Route) -> RunOutcome:
    """A call went out and no answer came back (or an earlier run's did not): it stays a provisional charge until
    reconciled. With `retry_unknown_outcome: once` the job runs again (its unit is called one more time); else,
    or after a second unknown outcome, it fails and says so."""
    unknown = exc.unknown if isinstance(exc, _UnknownOutcomeLimit) else most_unknown_attempts(job=job)
    if _may_call_again(route, unknown) and isinstance(exc, UnknownOutcomeError):
        return _retry_or_fail(job, owner, exc, {"unknown_outcome": True})
    _transition(
        job,
        owner,
        JobState.FAILED,
        error_code="unknown_outcome",
        error_message=(
            f"{exc}; the call may have been generated and billed: it is a provisional charge until reconciled "
            f"with the provider's usage (retry_unknown_outcome={route.retry_unknown_outcome})"
        ),
        error_detail={"unknown_calls": unknown, "retry_unknown_outcome": route.retry_unknown_outcome},
    )
    return RunOutcome(state=JobState.FAILED)


def _persisted(then: Callable[[], object] | None) -> None:
    """Last in the versions' transaction: the job's terminal transition after its last unit."""
    crash_point("versions_created")
    if then is not None:
        then()


def _response_outputs_set(job: Job, response: ProviderResponse, refs: list[dict]) -> None:
    ProviderResponse.objects.for_tenant(job.tenant_id).filter(pk=response.pk).update(outputs=refs)
    response.outputs = refs


def _error_detail(exc: FoundryError) -> dict:
    detail: dict = {"provider_request_id": exc.provider_request_id, "status": getattr(exc, "status_code", None)}
    if isinstance(exc, ContentFilteredError):
        detail["stage"] = str(exc.stage) if exc.stage else None
        detail["categories"] = list(exc.filtered_categories)
    return detail


def _audit_provider_refusal(*, job: Job, verdict: dict) -> None:
    """The image provider refused a job's prompt or output (in the transaction of its failure)."""
    audit(
        tenant=job.tenant,
        actor=Actor.system("worker"),
        action="job.content_filtered",
        target=("job", job.pk),
        payload={"verdict": verdict},
    )


def _refusal_verdict(exc: ContentFilteredError, policy: SafetyPolicy) -> dict:
    output = exc.stage and str(exc.stage) == "output"
    return provider_refusal_verdict(
        stage=Stage.OUTPUT if output else Stage.PROMPT,
        target="output" if output else "prompt",
        results=[(r.category, r.filtered, r.severity) for r in exc.results],
        thresholds=policy.output_thresholds if output else policy.prompt_thresholds,
        provider_request_id=exc.provider_request_id,
        safety_config_version=policy.version,
    ).to_dict()


def job_run(*, job_id: int, owner: str | None = None) -> RunOutcome:
    """Run the job to its end or its next wait. `owner` names this run's lease: the Celery task id,
    which its retries and redeliveries keep (a redelivered message means the previous run is gone)."""
    owner = owner or f"run-{uuid.uuid4().hex}"
    with preparing():
        return _job_run(job_id=job_id, owner=owner)


def _job_run(*, job_id: int, owner: str) -> RunOutcome:
    job = job_claim(job_id=job_id, owner=owner)
    if job is None:
        return RunOutcome(state=None)
    route = route_for(tenant_id=job.tenant_id)
    policy = job_safety_policy(job)
    try:
        with moderation_backend() as moderation:
            run = _RunContext(route=route, policy=policy, moderation=moderation, owner=owner)
            units = JobGeneration.objects.for_tenant(job.tenant_id).filter(job=job).order_by("id")
            pending = [unit for unit in units if unit.state != GenerationState.STORED]
            if job.cancel_requested and pending:  # asked for while no run held the job: stop before the next call
                _transition(job, owner, JobState.CANCELLED)
                return RunOutcome(state=JobState.CANCELLED)
            if pending and job.attempts > settings.JOB_MAX_ATTEMPTS:
                return _attempts_exhausted(job, owner)
            for index, unit in enumerate(pending):
                # The lease is renewed (and the cancel flag read) before each provider call (_call_provider).
                last = index == len(pending) - 1
                # Every step ran once the last unit's versions exist: the job succeeds in their transaction
                # (a cancel that arrives now is too late to save anything).
                _run_unit(job, unit, run, then=partial(_succeed, job, owner) if last else None)
    except ContentFilteredError as exc:
        verdict = _refusal_verdict(exc, policy)
        with transaction.atomic():
            moved = _transition(
                job,
                owner,
                JobState.FAILED,
                error_code="content_filtered",
                error_message=str(exc),
                error_detail=_error_detail(exc),
                safety_verdicts=[*job.safety_verdicts, verdict],
            )
            if moved:
                _audit_provider_refusal(job=job, verdict=verdict)
        return RunOutcome(state=JobState.FAILED)
    except ModerationError as exc:
        if exc.retryable:
            return _retry_or_fail(job, owner, exc, {"moderation": exc.code})
        _transition(
            job,
            owner,
            JobState.FAILED,
            error_code="moderation_failed",
            error_message=str(exc),
            error_detail={"status": exc.status_code, "code": exc.code},
        )
        return RunOutcome(state=JobState.FAILED)
    except (InvalidRequestError, AuthenticationError) as exc:
        code = "invalid_request" if isinstance(exc, InvalidRequestError) else "provider_authentication"
        if exc.code == ENDPOINT_INTERNAL_ADDRESS:
            # A tenant's deployment whose name resolves inside the platform's network: refused before anything was
            # sent. Its own code, so the tenant looks at the endpoint's DNS, not at its key.
            code = ENDPOINT_INTERNAL_ADDRESS
        _transition(
            job, owner, JobState.FAILED, error_code=code, error_message=str(exc), error_detail=_error_detail(exc)
        )
        return RunOutcome(state=JobState.FAILED)
    except QuotaTimeout as exc:
        return _wait_for_quota(job, owner, exc)
    except (UnknownOutcomeError, _UnknownOutcomeLimit) as exc:
        return _after_unknown_outcome(job, owner, exc, route)
    except NoRoute as exc:
        _transition(job, owner, JobState.FAILED, error_code="no_route", error_message=str(exc), error_detail={})
        return RunOutcome(state=JobState.FAILED)
    except LeaseLost:
        if _cancel_requested(job):
            _transition(job, owner, JobState.CANCELLED)
            return RunOutcome(state=JobState.CANCELLED)
        return RunOutcome(state=None)  # someone reclaimed the job: stop without touching it
    except SignerUnavailable as exc:
        _transition(
            job, owner, JobState.FAILED, error_code="signing_unavailable", error_message=str(exc), error_detail={}
        )
        return RunOutcome(state=JobState.FAILED)
    except ChargedWithoutImages as exc:
        # The charge stays in the ledger (the provider was paid); the rest of the hold is released.
        _transition(job, owner, JobState.FAILED, error_code=exc.code, error_message=str(exc), error_detail=exc.detail)
        return RunOutcome(state=JobState.FAILED)
    except FoundryError as exc:
        # Rate limits, 5xx, timeouts, malformed answers: the client already retried within its
        # bounds; the job gets a bounded number of further attempts later.
        return _retry_or_fail(job, owner, exc, _error_detail(exc))
    if not pending:  # stored by an earlier run that ended before its terminal transition
        _succeed(job, owner)
    return RunOutcome(state=JobState.SUCCEEDED)


def _succeed(job: Job, owner: str) -> bool:
    return _transition(job, owner, JobState.SUCCEEDED, error_code="", error_message="", error_detail={})


def _attempts_exhausted(job: Job, owner: str) -> RunOutcome:
    """A claim beyond JOB_MAX_ATTEMPTS: every earlier run ended without finishing the job (its worker died, a
    database error interrupted it, a provider error sent it back), so it fails instead of running forever.
    The refused claim is not an attempt: the job keeps the count the limit allowed."""
    used = job.attempts - 1
    _transition(
        job,
        owner,
        JobState.FAILED,
        lease_expires_at=None,
        attempts=used,
        error_code="attempts_exhausted",
        error_message=f"gave up: {used} attempts (JOB_MAX_ATTEMPTS) ended without finishing the job",
        error_detail={"attempts": used, "max_attempts": settings.JOB_MAX_ATTEMPTS},
    )
    return RunOutcome(state=JobState.FAILED)


def _wait_for_quota(job: Job, owner: str, exc: QuotaTimeout) -> RunOutcome:
    """No slot within FOUNDRY_QUOTA_WAIT_SECONDS: back in line for when the limiter says one frees.

    Waiting for the deployment's quota is not a failure, so it spends no attempt (the claim's is
    given back) and never fails the job; the thread is free for work that can run meanwhile.
    """
    _transition(
        job,
        owner,
        JobState.QUEUED,
        lease_expires_at=None,
        attempts=max(0, job.attempts - 1),
        error_code="waiting_for_quota",
        error_message=str(exc),
        error_detail={"retry_after_seconds": round(exc.retry_after, 3)},
    )
    return RunOutcome(state=JobState.QUEUED, retry_in=max(1.0, exc.retry_after))


def _retry_or_fail(job: Job, owner: str, exc: Exception, detail: dict) -> RunOutcome:
    """A transient failure (provider or moderation service): back in line, or failed once attempts run out."""
    if job.attempts < settings.JOB_MAX_ATTEMPTS:
        delay = settings.JOB_RETRY_BASE_SECONDS * 2 ** (job.attempts - 1)
        _transition(
            job,
            owner,
            JobState.QUEUED,
            lease_expires_at=None,
            error_code="retrying",
            error_message=str(exc),
            error_detail=detail,
        )
        return RunOutcome(state=JobState.QUEUED, retry_in=delay)
    code = "moderation_unavailable" if isinstance(exc, ModerationUnavailable) else "provider_unavailable"
    _transition(
        job,
        owner,
        JobState.FAILED,
        error_code=code,
        error_message=f"gave up after {job.attempts} attempts: {exc}",
        error_detail=detail,
    )
    return RunOutcome(state=JobState.FAILED)


def jobs_reconcile() -> list[int]:
    """Jobs that need a worker again: expired leases (a worker died) and long-queued jobs (a lost message)."""
    now = timezone.now()
    stale = Job.unscoped.filter(
        Q(state=JobState.RUNNING, lease_expires_at__lt=now)
        | Q(state=JobState.QUEUED, updated_at__lt=now - timedelta(seconds=settings.JOB_REQUEUE_AFTER_SECONDS))
    ).values_list("pk", flat=True)[:1000]
    return list(stale)
