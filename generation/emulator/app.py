"""The emulator's ASGI app: Azure OpenAI / Foundry image endpoints plus `/_emulator/*` control endpoints.

Routes (same protocol as the service):
    POST /openai/deployments/{deployment}/images/generations?api-version=...   JSON
    POST /openai/deployments/{deployment}/images/edits?api-version=...         multipart
    POST /openai/v1/images/generations, /openai/v1/images/edits                 with `model`
Azure AI Content Safety (generation.emulator.content_safety):
    POST /contentsafety/text:analyze, /contentsafety/image:analyze, /contentsafety/text:shieldPrompt,
    and the text blocklist management calls under /contentsafety/text/blocklists
Control (not part of Azure's API):
    GET /_emulator/stats, POST /_emulator/reset, GET|POST /_emulator/config,
    GET /_emulator/usage?format=json|csv&since=<iso>&deployment=<name> (the per-request usage export)
    (Content Safety: `content_safety` in the stats, and in the config as {"content_safety": {...}})

One image call: auth -> (pool: unknown deployment 404, down 503/404/401) -> parameters -> fault headers ->
(pool: throttle burst 429) -> quota -> injected 429 (immediate, like a real throttle) -> latency -> injected
500 / hang / malformed -> input content filter -> render (a thread, or a render process:
generation.emulator.rendering) -> output moderation -> 200, and a usage export row for a billable answer.
With a deployment pool configured (generation.emulator.deployments) the quota, latency and fault fields are
the deployment's.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from generation.emulator import credentials, errors
from generation.emulator.config import EmulatorConfig, Fault
from generation.emulator.content_safety import ContentSafetyState, content_safety_routes
from generation.emulator.control import control_routes, error_response
from generation.emulator.deployments import DeploymentRuntime
from generation.emulator.errors import EmulatorError
from generation.emulator.faults import HEADER_FAULT, HEADER_LATENCY, FaultPlan, blocked_category, plan_faults
from generation.emulator.latency import PUBLISHED_LATENCY_MODEL, published_seconds
from generation.emulator.params import ImageRequest, parse_edit, parse_generation
from generation.emulator.rendering import Renderer
from generation.emulator.state import EmulatorState
from generation.emulator.stats import CallRecord
from generation.emulator.usage import usage_for
from generation.emulator.usage_export import UsageRow, iso_time

logger = logging.getLogger(__name__)

EMULATOR_HEADER = "x-emulator"
EMULATOR_HEADER_VALUE = "foundry-emulator; dev/test only; not the model"
MAX_BODY_BYTES = 200 * 1024 * 1024
OPERATIONS = {"generations": "ImageGenerations_Create", "edits": "ImageEdits_Create"}
# HTTP 499 (nginx's "client closed request"): what stats record when the caller gave up first.
CLIENT_CLOSED = 499


class ClientGone(Exception):
    """The caller disconnected while the emulator was waiting (latency or a hang)."""


@dataclasses.dataclass
class CallContext:
    """What one image call learns on its way that its answer, stats and usage row need."""

    runtime: DeploymentRuntime | None = None  # the pool deployment serving it (None: single-deployment mode)
    usage: dict[str, Any] | None = None  # what the call costs once generated
    generated: bool = False  # it got past every refusal: a 2xx answer is billed


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _pause(
    request: Request,
    seconds: float,
    release: asyncio.Event | None = None,
    *,
    watcher: asyncio.Future | None = None,
) -> None:
    """Sleep, but stop early when the caller disconnects (raises ClientGone) or `release` is set.

    `watcher`: a running `_disconnected` task the caller owns (it outlives this pause)."""
    if seconds <= 0:
        if watcher is not None and watcher.done():
            raise ClientGone
        return
    own_watcher = watcher is None
    if watcher is None:
        watcher = asyncio.ensure_future(_disconnected(request))
    waiters = {asyncio.ensure_future(asyncio.sleep(seconds)), watcher}
    if release is not None:
        waiters.add(asyncio.ensure_future(release.wait()))
    try:
        done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            if own_watcher or waiter is not watcher:
                waiter.cancel()
    if watcher in done:
        raise ClientGone


def _authenticate(request: Request, config: EmulatorConfig) -> None:
    api_key = request.headers.get("api-key", "").strip()
    authorization = request.headers.get("authorization", "")
    bearer = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
    presented = api_key or bearer
    if not presented:
        raise errors.unauthorized(missing=True)
    if config.api_keys and presented not in config.api_keys:
        raise errors.unauthorized(missing=False)


async def _read_request(request: Request, *, kind: str, deployment: str) -> ImageRequest:
    if kind == "generations":
        try:
            body = json.loads(await request.body() or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise errors.invalid_request(
                "We could not parse the JSON body of your request.", param=None, code="invalid_json"
            ) from None
        if not deployment and isinstance(body, dict):
            deployment = str(body.get("model") or "")
        image_request = parse_generation(body, deployment=deployment)
    else:
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise errors.invalid_request(
                "Image edits take multipart/form-data with 'image' (or 'image[]'), optional 'mask' and 'prompt'.",
                param=None,
                code="invalid_content_type",
            )
        form = await request.form(max_files=64, max_fields=64)
        fields: dict[str, Any] = {}
        files: dict[str, list[bytes]] = {}
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                files.setdefault(name, []).append(await value.read())
            else:
                fields[name] = value
        await form.close()
        deployment = deployment or str(fields.get("model") or "")
        # Decoding a large input image is CPU work: keep it off the event loop.
        image_request = await run_in_threadpool(parse_edit, fields, files, deployment=deployment)
    if not image_request.deployment:
        raise errors.invalid_request(
            "Missing required parameter: 'model'.", param="model", code="missing_required_parameter"
        )
    return image_request


def _describe(record: CallRecord, image_request: ImageRequest) -> None:
    width, height = image_request.output_size
    record.deployment = image_request.deployment
    record.prompt = image_request.prompt
    record.size = f"{width}x{height}"
    record.quality = image_request.resolved_quality
    record.n = image_request.n
    record.output_format = image_request.output_format
    record.input_images = len(image_request.images)
    record.has_mask = image_request.mask is not None


def _enter_deployment(state: EmulatorState, call: CallContext, name: str) -> None:
    """Pool mode: the call belongs to deployment `name` from here on; a down deployment refuses it at once."""
    call.runtime = state.deployment(name)
    call.runtime.entered()
    refusal = call.runtime.refusal()
    if refusal is not None:
        raise refusal


def _plan(
    request: Request, state: EmulatorState, call: CallContext, image_request: ImageRequest, queued: Fault | None
) -> FaultPlan:
    """The call's fault and latency: the global config's, with a pool deployment's overrides and latency model."""
    config = state.config
    runtime = call.runtime
    effective = config.updated(**runtime.fault_overrides()) if runtime else config
    plan = plan_faults(config=effective, headers=request.headers, rng=state.rng, queued=queued)
    if runtime is None or HEADER_LATENCY in request.headers:
        return plan  # a per-request latency header is taken as given
    deployment = runtime.config
    seconds = plan.latency_seconds
    if deployment.latency == PUBLISHED_LATENCY_MODEL:
        width, height = image_request.output_size
        seconds = published_seconds(
            quality=image_request.resolved_quality,
            width=width,
            height=height,
            n=image_request.n,
            draw=state.rng.random(),
            time_scale=config.time_scale,
        )
    return dataclasses.replace(plan, latency_seconds=seconds * deployment.slow_factor)


async def _serve(
    request: Request, state: EmulatorState, record: CallRecord, call: CallContext
) -> tuple[Response, dict | None]:
    arrived_at = state.quota.now()
    config = state.config
    _authenticate(request, config)
    api_version = request.query_params.get("api-version", "")
    if record.api == "azure" and not api_version:
        # What Azure answers when the api-version query parameter is missing.
        raise errors.not_found()
    if state.pool and record.deployment:
        # The deployments URL names it: refuse before reading (and paying for parsing) the body, as Azure does.
        _enter_deployment(state, call, record.deployment)

    image_request = await _read_request(request, kind=record.kind, deployment=record.deployment)
    _describe(record, image_request)
    if state.pool and call.runtime is None:
        _enter_deployment(state, call, image_request.deployment)  # v1: the body's `model` names it
    width, height = image_request.output_size

    usage = usage_for(
        prompt=image_request.prompt,
        input_images=[image.size for image in image_request.images],
        width=width,
        height=height,
        quality=image_request.resolved_quality,
        n=image_request.n,
    )
    call.usage = usage
    queued = None if HEADER_FAULT in request.headers or not config.fault_queue else config.fault_queue[0]
    plan = _plan(request, state, call, image_request, queued)
    operation, version = OPERATIONS[record.kind], api_version or "v1"

    runtime = call.runtime
    if runtime is not None and runtime.throttled(state.pool.now(), config.time_scale):
        # A burst refuses though the window has room, and charges nothing to it.
        raise errors.rate_limited(
            retry_after_ms=plan.retry_after_ms,
            operation=operation,
            api_version=version,
            reason="call rate limit",
            fault="throttle_burst",
        )
    window, rpm, tpm = (
        (runtime.quota, runtime.config.rpm, runtime.config.tpm) if runtime else (state.quota, config.rpm, config.tpm)
    )
    admission = window.admit(tokens=usage["total_tokens"], rpm=rpm, tpm=tpm, arrived_at=arrived_at)
    if not admission.admitted:
        raise errors.rate_limited(
            retry_after_ms=admission.retry_after_ms,
            operation=operation,
            api_version=version,
            reason=admission.reason,
            fault="quota",
        )
    if queued is not None:
        state.pop_queued_fault()
    quota_headers: dict[str, str] = {}
    if admission.remaining_requests is not None:
        quota_headers["x-ratelimit-remaining-requests"] = str(admission.remaining_requests)
    if admission.remaining_tokens is not None:
        quota_headers["x-ratelimit-remaining-tokens"] = str(admission.remaining_tokens)

    if plan.fault == Fault.RATE_LIMIT:
        raise errors.rate_limited(
            retry_after_ms=plan.retry_after_ms,
            operation=operation,
            api_version=version,
            reason="call rate limit",
            fault="429",
        )
    bill_disconnected = runtime.config.bill_disconnected if runtime else config.bill_disconnected
    return await _produce(
        request,
        state,
        record=record,
        call=call,
        image_request=image_request,
        plan=plan,
        usage=usage,
        quota_headers=quota_headers,
        bill_disconnected=bill_disconnected,
    )


async def _produce(
    request: Request,
    state: EmulatorState,
    *,
    record: CallRecord,
    call: CallContext,
    image_request: ImageRequest,
    plan: FaultPlan,
    usage: dict[str, Any],
    quota_headers: dict[str, str],
    bill_disconnected: bool,
) -> tuple[Response, dict | None]:
    config = state.config
    input_category = blocked_category(image_request.prompt, config.blocked_terms)
    will_render = plan.fault in (None, Fault.CONTENT_FILTER_OUTPUT) and not input_category
    # Rendering runs during the injected latency, as the service's own work is part of its latency:
    # a call configured for 2 s answers in about 2 s, not 2 s plus the render.
    text_fault = plan.text_fault.value if plan.text_fault else None
    rendering = (
        asyncio.ensure_future(state.renderer.render(image_request, config.render, text_fault)) if will_render else None
    )
    # Billing a disconnected caller: the service does not cancel a generation when its caller leaves, so the
    # latency runs to its end whatever the caller does; only a hang (no generation) still ends on a disconnect.
    watcher = asyncio.ensure_future(_disconnected(request)) if bill_disconnected else None
    try:
        if watcher is not None:
            await asyncio.sleep(plan.latency_seconds)
        else:
            await _pause(request, plan.latency_seconds)
        if plan.fault == Fault.SERVER_ERROR:
            raise errors.server_error()
        if plan.fault == Fault.HANG:
            await _pause(request, config.hang_seconds, state.release, watcher=watcher)
            raise errors.gateway_timeout()
        if plan.fault == Fault.MALFORMED:
            record.fault = "malformed"
            call.generated = True  # generated and billed; the answer broke on the way
            record.client_disconnected = bool(watcher is not None and watcher.done())
            truncated = b'{"created": %d, "data": [{"b64_json": "iVBORw0KGgoAAAANSUhEUgAA' % int(time.time())
            return Response(truncated, status_code=200, media_type="application/json"), None
        if plan.fault == Fault.CONTENT_FILTER_INPUT or input_category:
            raise errors.content_filter_input(input_category or "violence")
        assert rendering is not None
        images = await rendering
        record.client_disconnected = bool(watcher is not None and watcher.done())
    finally:
        if watcher is not None:
            watcher.cancel()
        if rendering is not None and not rendering.done():
            rendering.cancel()  # the caller left: the worker thread finishes on its own, its result is dropped

    output_category = blocked_category(image_request.prompt, config.output_blocked_terms)
    if plan.fault == Fault.CONTENT_FILTER_OUTPUT or output_category:
        raise errors.moderation_blocked_output(output_category or "violence")

    call.generated = True
    record.images = len(images)
    # Plain pictures have no copy to get wrong.
    record.text_fault = text_fault if config.render == "full" or record.kind == "edits" else None
    record.total_tokens = usage["total_tokens"]
    body = {
        "created": int(time.time()),
        "data": [{"b64_json": base64.b64encode(data).decode("ascii")} for data in images],
        "usage": usage,
        "output_format": image_request.output_format,
        "size": record.size,
        "quality": image_request.resolved_quality,
        "background": image_request.background,
    }
    return JSONResponse(body, headers=quota_headers), usage


def _usage_row(record: CallRecord, call: CallContext) -> UsageRow | None:
    """The provider's usage export row for a billable answer (usage_export's docstring says which are)."""
    if not (call.generated and 200 <= record.status < 300 and call.usage is not None):
        return None
    deployment = call.runtime.config if call.runtime else None
    return UsageRow(
        time=iso_time(time.time()),
        deployment=record.deployment,
        region=deployment.region if deployment else None,
        operation=OPERATIONS[record.kind],
        request_id=record.request_id,
        client_request_id=record.client_request_id,
        status=record.status,
        input_tokens=call.usage["input_tokens"],
        output_tokens=call.usage["output_tokens"],
        total_tokens=call.usage["total_tokens"],
        images=record.n or 0,
        quality=record.quality,
        size=record.size,
        data_zone=deployment.data_zone if deployment else None,
        deployment_type=deployment.deployment_type if deployment else None,
        client_disconnected=record.client_disconnected,
    )


async def _image_call(request: Request, *, kind: str) -> Response:
    state: EmulatorState = request.app.state.emulator
    request_id = str(uuid.uuid4())
    deployment = request.path_params.get("deployment", "")
    record = CallRecord(
        request_id=request_id,
        at=time.time(),
        kind=kind,
        api="azure" if deployment else "v1",
        deployment=deployment,
        client_request_id=request.headers.get("x-ms-client-request-id"),
    )
    started = time.perf_counter()
    usage = None
    call = CallContext()
    state.stats.started()
    try:
        response, usage = await _serve(request, state, record, call)
        record.status = response.status_code
    except EmulatorError as error:
        response = error_response(error)
        record.status, record.error_code, record.fault = error.status, error.code, error.fault
    except ClientGone:
        response = Response(status_code=CLIENT_CLOSED)
        record.status, record.error_code = CLIENT_CLOSED, "client_disconnected"
    except BaseException:
        record.status, record.error_code = 500, "emulator_crash"
        record.duration_ms = int((time.perf_counter() - started) * 1000)
        state.stats.finished(record, None)
        if call.runtime is not None:
            call.runtime.left(record.status)
        raise
    record.duration_ms = int((time.perf_counter() - started) * 1000)
    if call.runtime is not None:
        record.region = call.runtime.config.region
        call.runtime.left(record.status)
        for name, value in call.runtime.answer_headers().items():
            response.headers[name] = value
    state.stats.finished(record, usage)
    row = _usage_row(record, call)
    if row is not None:
        state.usage.append(row)
    response.headers["x-request-id"] = request_id
    response.headers["apim-request-id"] = request_id
    return response


async def generations(request: Request) -> Response:
    return await _image_call(request, kind="generations")


async def edits(request: Request) -> Response:
    return await _image_call(request, kind="edits")


class EmulatorHeaderMiddleware:
    """Every response, errors and 404s included, says it comes from the emulator."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_marked(message: dict) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append(EMULATOR_HEADER, EMULATOR_HEADER_VALUE)
            await send(message)

        await self.app(scope, receive, send_marked)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    if status == 404:
        return error_response(errors.not_found())
    return JSONResponse(
        {"error": {"code": str(status), "message": getattr(exc, "detail", "error")}}, status_code=status
    )


def create_app(config: EmulatorConfig | None = None, *, render_processes: int = 0) -> Starlette:
    """`render_processes`: draw designed pictures in that many processes (0: in threads of this one), so that
    drawing cannot delay the arrival stamps of the calls the quota counts (generation.emulator.rendering)."""
    state = EmulatorState(config or EmulatorConfig(), Renderer(render_processes))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        credentials.ensure_ca()  # the "emulator" CA its answers are signed with, made on the first start
        await state.renderer.start()
        logger.info("foundry emulator ready (%s)", EMULATOR_HEADER_VALUE)
        try:
            yield
        finally:
            state.release_hangs()
            state.renderer.close()

    routes = [
        Route("/openai/deployments/{deployment}/images/generations", generations, methods=["POST"]),
        Route("/openai/deployments/{deployment}/images/edits", edits, methods=["POST"]),
        Route("/openai/v1/images/generations", generations, methods=["POST"]),
        Route("/openai/v1/images/edits", edits, methods=["POST"]),
        *content_safety_routes(),
        *control_routes(),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
        max_body_size=MAX_BODY_BYTES,
    )
    app.add_middleware(EmulatorHeaderMiddleware)
    app.state.emulator = state
    app.state.content_safety = ContentSafetyState(allowed_keys=lambda: state.config.api_keys)
    return app
