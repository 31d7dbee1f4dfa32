"""The error bodies Azure OpenAI / Foundry and OpenAI answer with, so a client's error mapping is tested for real.

Shapes:
- invalid request (400): `{"error": {"code", "message", "param", "type": "invalid_request_error"}}`
- input content filter (400): `{"error": {"code": "content_filter", "message", "param": "prompt", "type": null,
  "inner_error": {"code": "ResponsibleAIPolicyViolation", "content_filter_results": {<category>: {"filtered",
  "severity"}}}}}` (Azure's shape for a prompt its classifiers refuse)
- output moderation (400): `{"error": {"code": "moderation_blocked", "message", "param": null,
  "type": "image_generation_user_error", "inner_error": {...same results...}}}` (OpenAI's shape when the
  generated image is blocked; the inner_error keeps the categories)
- rate limited (429): Azure's `{"error": {"code": "429", "message": "... Please retry after N seconds ..."}}`
  with `retry-after` (seconds) and `retry-after-ms` headers
- unauthorized (401), not found (404), server error (500), gateway timeout (504)
- deployment not found (404, `DeploymentNotFound`), service unavailable (503, `ServiceUnavailable`): a deployment
  of the pool that does not exist or is down (generation.emulator.deployments)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from generation.emulator.config import CONTENT_CATEGORIES


@dataclass
class EmulatorError(Exception):
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    # What stats call this outcome when it is an injected or enforced fault (e.g. "429", "quota").
    fault: str | None = None

    @property
    def code(self) -> str | None:
        return self.body.get("error", {}).get("code")


def invalid_request(message: str, *, param: str | None, code: str = "invalid_value") -> EmulatorError:
    return EmulatorError(
        400, {"error": {"code": code, "message": message, "param": param, "type": "invalid_request_error"}}
    )


def unauthorized(*, missing: bool) -> EmulatorError:
    message = (
        "Access denied due to missing subscription key. Make sure to include subscription key when making "
        "requests to an API."
        if missing
        else "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid "
        "key for an active subscription and use a correct regional API endpoint for your resource."
    )
    return EmulatorError(401, {"error": {"code": "401", "message": message}})


def not_found() -> EmulatorError:
    return EmulatorError(404, {"error": {"code": "404", "message": "Resource not found"}})


def deployment_not_found(*, fault: str | None = None) -> EmulatorError:
    message = (
        "The API deployment for this resource does not exist. If you created the deployment within the last 5 "
        "minutes, please wait a moment and try again."
    )
    return EmulatorError(404, {"error": {"code": "DeploymentNotFound", "message": message}}, fault=fault)


def service_unavailable(*, fault: str | None = None) -> EmulatorError:
    message = "The service is temporarily unable to process your request. Please try again later. (foundry emulator)"
    return EmulatorError(503, {"error": {"code": "ServiceUnavailable", "message": message}}, fault=fault)


def content_filter_results(category: str, severity: str = "medium") -> dict[str, dict[str, Any]]:
    return {
        name: {"filtered": name == category, "severity": severity if name == category else "safe"}
        for name in CONTENT_CATEGORIES
    }


def content_filter_input(category: str) -> EmulatorError:
    message = (
        "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. "
        "Please modify your prompt and retry. (foundry emulator: a configured blocked term matched the prompt)"
    )
    return EmulatorError(
        400,
        {
            "error": {
                "code": "content_filter",
                "message": message,
                "param": "prompt",
                "type": None,
                "inner_error": {
                    "code": "ResponsibleAIPolicyViolation",
                    "content_filter_results": content_filter_results(category),
                },
            }
        },
        fault="content_filter_input",
    )


def moderation_blocked_output(category: str) -> EmulatorError:
    message = (
        "The generated image was blocked by the safety system (output moderation). "
        "(foundry emulator: the prompt asked for an output-stage block)"
    )
    return EmulatorError(
        400,
        {
            "error": {
                "code": "moderation_blocked",
                "message": message,
                "param": None,
                "type": "image_generation_user_error",
                "inner_error": {
                    "code": "ResponsibleAIPolicyViolation",
                    "content_filter_results": content_filter_results(category),
                },
            }
        },
        fault="content_filter_output",
    )


def rate_limited(*, retry_after_ms: int, operation: str, api_version: str, reason: str, fault: str) -> EmulatorError:
    seconds = max(1, math.ceil(retry_after_ms / 1000))
    message = (
        f"Requests to the {operation} Operation under Azure OpenAI API version {api_version} have exceeded "
        f"{reason} of your current OpenAI S0 pricing tier. Please retry after {seconds} seconds. "
        "(foundry emulator)"
    )
    headers = {"retry-after": str(seconds), "retry-after-ms": str(retry_after_ms)}
    return EmulatorError(429, {"error": {"code": "429", "message": message}}, headers, fault=fault)


def server_error() -> EmulatorError:
    return EmulatorError(
        500,
        {
            "error": {
                "code": "internal_server_error",
                "message": "The server had an error while processing your request. Sorry about that! "
                "(foundry emulator: injected fault)",
                "param": None,
                "type": "server_error",
            }
        },
        fault="500",
    )


def gateway_timeout() -> EmulatorError:
    return EmulatorError(
        504,
        {"error": {"code": "Timeout", "message": "The operation was timeout. (foundry emulator: hung request)"}},
        fault="hang",
    )
