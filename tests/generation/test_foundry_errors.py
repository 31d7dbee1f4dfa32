"""Error mapping from the response shapes Azure OpenAI / Foundry and OpenAI answer with."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from generation.foundry.errors import (
    AuthenticationError,
    ContentFilteredError,
    DeploymentNotFoundError,
    FilterResult,
    FilterStage,
    InvalidRequestError,
    MalformedResponseError,
    RateLimitedError,
    TransientError,
    error_from_response,
    retry_after_seconds,
)
from generation.foundry.results import parse_image_response


def _map(status: int, body: object, headers: dict[str, str] | None = None, secrets=()):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return error_from_response(status_code=status, headers=headers or {}, body=raw, secrets=secrets)


AZURE_PROMPT_FILTERED = {
    "error": {
        "code": "contentFilter",
        "message": "Your task failed as a result of our safety system.",
        "inner_error": {
            "code": "ResponsibleAIPolicyViolation",
            "content_filter_results": {
                "hate": {"filtered": False, "severity": "safe"},
                "sexual": {"filtered": False, "severity": "safe"},
                "violence": {"filtered": True, "severity": "high"},
                "self_harm": {"filtered": False, "severity": "low"},
                "jailbreak": {"filtered": False, "detected": False},
            },
            "revised_prompt": "a scene",
        },
    }
}

AZURE_CHAT_STYLE_FILTERED = {
    "error": {
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
        "type": None,
        "param": "prompt",
        "code": "content_filter",
        "status": 400,
        "innererror": {
            "code": "ResponsibleAIPolicyViolation",
            "content_filter_result": {
                "hate": {"filtered": True, "severity": "medium"},
                "self_harm": {"filtered": True, "severity": "high"},
                "sexual": {"filtered": False, "severity": "safe"},
                "violence": {"filtered": False, "severity": "safe"},
            },
        },
    }
}

OPENAI_MODERATION_BLOCKED = {
    "error": {
        "message": "Your request was rejected by the safety system. safety_violations=[sexual].",
        "type": "image_generation_user_error",
        "param": None,
        "code": "moderation_blocked",
    }
}

OPENAI_POLICY_VIOLATION = {
    "error": {
        "code": "content_policy_violation",
        "message": "Your request was rejected as a result of our safety system.",
        "param": None,
        "type": "invalid_request_error",
    }
}


def test_azure_prompt_filter_keeps_every_category_and_is_input_stage():
    err = _map(400, AZURE_PROMPT_FILTERED, {"apim-request-id": "apim-1"})
    assert isinstance(err, ContentFilteredError)
    assert not err.retryable
    assert err.stage is FilterStage.INPUT
    assert err.filtered_categories == ("violence",)
    assert FilterResult("violence", True, "high") in err.results
    assert FilterResult("self_harm", False, "low") in err.results
    assert FilterResult("jailbreak", False, None, False) in err.results
    assert err.provider_request_id == "apim-1"
    assert "violence" in str(err) and "stage=input" in str(err)


def test_chat_style_innererror_with_singular_results_key():
    err = _map(400, AZURE_CHAT_STYLE_FILTERED)
    assert isinstance(err, ContentFilteredError)
    assert err.stage is FilterStage.INPUT
    assert set(err.filtered_categories) == {"hate", "self_harm"}


def test_moderation_blocked_is_output_stage_even_without_categories():
    err = _map(400, OPENAI_MODERATION_BLOCKED, {"x-request-id": "req_9"})
    assert isinstance(err, ContentFilteredError)
    assert err.stage is FilterStage.OUTPUT
    assert err.results == ()
    assert err.code == "moderation_blocked"
    assert err.provider_request_id == "req_9"


def test_content_policy_violation_without_inner_error_is_input_stage():
    err = _map(400, OPENAI_POLICY_VIOLATION)
    assert isinstance(err, ContentFilteredError)
    assert err.stage is FilterStage.INPUT


def test_filtered_generated_image_message_means_output_stage():
    message = "Generated image was filtered as a result of our safety system."
    body = {"error": {"code": "contentFilter", "message": message}}
    err = _map(400, body)
    assert isinstance(err, ContentFilteredError)
    assert err.stage is FilterStage.OUTPUT


def test_inner_responsible_ai_code_alone_marks_a_content_filter():
    inner = {"code": "ResponsibleAIPolicyViolation"}
    body = {"error": {"code": "BadRequest", "message": "blocked", "innererror": inner}}
    assert isinstance(_map(400, body), ContentFilteredError)


def test_200_with_withheld_image_is_an_output_content_filter():
    body = {
        "created": 1,
        "data": [{"content_filter_results": {"sexual": {"filtered": True, "severity": "high"}}}],
    }
    with pytest.raises(ContentFilteredError) as caught:
        parse_image_response(json.dumps(body).encode(), provider_request_id="r-2")
    assert caught.value.stage is FilterStage.OUTPUT
    assert caught.value.filtered_categories == ("sexual",)
    assert caught.value.provider_request_id == "r-2"


def test_429_prefers_retry_after_ms_over_retry_after():
    body = {"error": {"code": "429", "message": "Rate limit is exceeded. Try again in 2 seconds."}}
    err = _map(429, body, {"retry-after": "2", "retry-after-ms": "1500", "x-ms-request-id": "ms-1"})
    assert isinstance(err, RateLimitedError)
    assert err.retryable
    assert err.retry_after == pytest.approx(1.5)
    assert err.provider_request_id == "ms-1"


def test_429_with_seconds_or_http_date_or_only_a_message():
    assert _map(429, {"error": {"code": "429", "message": "slow down"}}, {"retry-after": "7"}).retry_after == 7
    now = datetime(2026, 1, 1, tzinfo=UTC)
    headers = {"retry-after": format_datetime(now + timedelta(seconds=30), usegmt=True)}
    assert retry_after_seconds(headers, now=now.timestamp()) == pytest.approx(30)
    azure_message = (
        "Requests to the Images_Generations_Create Operation under Azure OpenAI API version 2025-04-01-preview "
        "have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after 6 seconds."
    )
    assert _map(429, {"error": {"code": "429", "message": azure_message}}).retry_after == 6
    assert _map(429, {"error": {"code": "429", "message": "Try again in 2 seconds."}}).retry_after == 2
    assert _map(429, b"Too Many Requests").retry_after is None


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_are_not_retryable(status):
    err = _map(status, {"error": {"code": str(status), "message": "Access denied due to invalid subscription key."}})
    assert isinstance(err, AuthenticationError)
    assert not err.retryable


def test_api_management_flat_error_shape():
    err = _map(401, {"statusCode": 401, "message": "Unauthorized. Access token is missing, invalid, expired."})
    assert isinstance(err, AuthenticationError)
    assert "Access token is missing" in err.message
    assert err.code == "401"


def test_other_4xx_are_invalid_requests_with_param_and_code():
    body = {
        "error": {
            "code": "invalid_value",
            "message": "Invalid size '1000x1000'. Width and height must be multiples of 16.",
            "param": "size",
            "type": "invalid_request_error",
        }
    }
    err = _map(400, body)
    assert isinstance(err, InvalidRequestError)
    assert not err.retryable
    assert (err.param, err.code, err.status_code) == ("size", "invalid_value", 400)
    assert "param=size" in str(err)
    missing = _map(404, {"error": {"code": "DeploymentNotFound", "message": "The API deployment does not exist."}})
    # Refused before generating: a pool moves the call to another deployment (generation.services.calls).
    assert isinstance(missing, DeploymentNotFoundError) and missing.code == "DeploymentNotFound"
    assert not isinstance(missing, InvalidRequestError) and not missing.retryable


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_server_side_failures_are_transient(status):
    err = _map(status, b"<html><body><h1>502 Bad Gateway</h1></body></html>")
    assert isinstance(err, TransientError)
    assert err.retryable
    assert "Bad Gateway" in err.message


def test_echoed_credentials_are_redacted_from_messages():
    key = "sk-test-0123456789abcdef"
    err = _map(401, {"error": {"code": "401", "message": f"key {key} is not valid"}}, secrets=[key])
    assert key not in str(err) and key not in repr(err) and key not in err.message
    assert "********" in err.message


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>not json</html>", "not JSON"),
        (b"[1, 2]", "not an object"),
        (b'{"created": 1}', "no 'data'"),
        (b'{"data": [{"url": "https://example.invalid/x.png"}]}', "no b64_json"),
        (b'{"data": [{"b64_json": "@@not-base64@@"}]}', "not valid base64"),
        (b'{"data": [{"b64_json": "aGVsbG8gd29ybGQ="}]}', "not a decodable image"),
    ],
)
def test_malformed_success_bodies(body, reason):
    with pytest.raises(MalformedResponseError) as caught:
        parse_image_response(body, provider_request_id="r-1")
    assert reason in str(caught.value)
    assert not caught.value.retryable
