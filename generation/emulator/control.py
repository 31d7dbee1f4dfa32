"""The control endpoints (not part of Azure's API): stats, reset, config and the usage export.

GET /_emulator/stats, POST /_emulator/reset, GET|POST /_emulator/config,
GET /_emulator/usage?format=json|csv&since=<iso>&deployment=<name>
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from generation.emulator import errors
from generation.emulator.config import ConfigError
from generation.emulator.errors import EmulatorError
from generation.emulator.state import EmulatorState
from generation.emulator.usage_export import parse_since, rows_csv, rows_json


def error_response(error: EmulatorError) -> JSONResponse:
    return JSONResponse(error.body, status_code=error.status, headers=error.headers)


async def stats_view(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    snapshot = state.stats.snapshot()
    snapshot["deployments"] = state.pool.stats(state.config.time_scale)
    snapshot["content_safety"] = request.app.state.content_safety.snapshot()
    return JSONResponse(snapshot)


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except json.JSONDecodeError:
        raise errors.invalid_request("The body must be a JSON object.", param=None, code="invalid_json") from None
    if not isinstance(body, dict):
        raise errors.invalid_request("The body must be a JSON object.", param=None, code="invalid_json")
    return body


async def reset_view(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    try:
        body = await _json_object(request)
    except EmulatorError as error:
        return error_response(error)
    state.reset(restore_config=bool(body.get("restore_config", False)))
    request.app.state.content_safety.reset(restore_config=bool(body.get("restore_config", False)))
    return JSONResponse({"reset": True, "config": _config_dict(request)})


async def usage_view(request: Request) -> Response:
    """The provider's per-request usage export (generation.emulator.usage_export), JSON or CSV."""
    state: EmulatorState = request.app.state.emulator
    params = request.query_params
    export_format = params.get("format", "json").lower()
    if export_format not in ("json", "csv"):
        return error_response(errors.invalid_request("format must be json or csv.", param="format"))
    since = None
    if params.get("since"):
        try:
            since = parse_since(params["since"])
        except ValueError:
            return error_response(
                errors.invalid_request(f"since: {params['since']!r} is not an ISO 8601 time.", param="since")
            )
    rows = state.usage.rows(since=since, deployment=params.get("deployment") or None)
    if export_format == "csv":
        return Response(rows_csv(rows), media_type="text/csv; charset=utf-8")
    return JSONResponse(rows_json(rows, dropped=state.usage.dropped))


def _config_dict(request: Request) -> dict[str, Any]:
    state: EmulatorState = request.app.state.emulator
    return {
        **state.config.to_dict(),
        "deployments": state.pool.describe(state.config.time_scale),
        "content_safety": request.app.state.content_safety.config.to_dict(),
    }


async def config_view(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    if request.method == "POST":
        try:
            changes = await _json_object(request)
            if "content_safety" in changes:
                request.app.state.content_safety.configure(changes.pop("content_safety"))
            state.configure(**changes)
        except EmulatorError as error:
            return error_response(error)
        except ConfigError as exc:
            return error_response(errors.invalid_request(str(exc), param=str(exc).split(":")[0], code="invalid_config"))
    return JSONResponse(_config_dict(request))


def control_routes() -> list[Route]:
    return [
        Route("/_emulator/stats", stats_view, methods=["GET"]),
        Route("/_emulator/reset", reset_view, methods=["POST"]),
        Route("/_emulator/config", config_view, methods=["GET", "POST"]),
        Route("/_emulator/usage", usage_view, methods=["GET"]),
    ]
