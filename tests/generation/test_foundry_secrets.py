"""A deployment's key never shows up in exceptions, reprs, tracebacks or logs, whatever goes wrong."""

from __future__ import annotations

import logging
import socket
import traceback

import pytest

from generation.foundry.client import FoundryImageClient
from generation.foundry.config import DeploymentConfig, Secret
from generation.foundry.errors import FoundryError

pytestmark = pytest.mark.integration

KEY = "known-foundry-key-3b1f0c9e7d5a"
SIZE = "1024x640"


def _config(endpoint: str, **changes) -> DeploymentConfig:
    fields = {
        "name": "leak-check",
        "endpoint": endpoint,
        "deployment": "gpt-image-2",
        "api_key": Secret(KEY),
        "read_timeout_seconds": 0.5,
        "max_attempts": 2,
        "backoff_initial_seconds": 0.01,
        "backoff_max_seconds": 0.02,
    }
    fields.update(changes)
    return DeploymentConfig(**fields)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _failures(emulator) -> list[tuple[DeploymentConfig, dict[str, str], str]]:
    url = emulator.base_url
    return [
        (_config(url), {}, "a cube"),  # 401: the emulator only accepts another key
        (_config(url), {"x-emulator-fault": "500"}, "a cube"),
        (_config(url), {"x-emulator-fault": "429", "x-emulator-retry-after-ms": "10"}, "a cube"),
        (_config(url), {"x-emulator-fault": "hang"}, "a cube"),
        (_config(url), {"x-emulator-fault": "malformed"}, "a cube"),
        (_config(url), {}, "a cube with emulator-block-input"),
        (_config(url), {"x-emulator-fault": "content_filter_output"}, "a cube"),
        (_config(url), {}, "x" * 40_000),  # an invalid request (prompt too long)
        (_config(f"http://127.0.0.1:{_closed_port()}"), {}, "a cube"),
    ]


def test_the_key_is_absent_from_every_error_and_log_line(clean_emulator, caplog):
    caplog.set_level(logging.DEBUG)  # httpx and httpcore included
    seen: list[str] = []
    for index, (config, headers, prompt) in enumerate(_failures(clean_emulator)):
        clean_emulator.configure(api_keys=["another-key"] if index == 0 else [KEY])
        client = FoundryImageClient(config)
        try:
            with pytest.raises(FoundryError) as caught:
                client.generate(prompt=prompt, size=SIZE, quality="low", extra_headers=headers)
        finally:
            client.close()
        error = caught.value
        seen.append(type(error).__name__)
        rendered = [str(error), repr(error), "".join(traceback.format_exception(error)), repr(client), repr(config)]
        for text in rendered:
            assert KEY not in text, f"{type(error).__name__} leaked the key"
    assert KEY not in caplog.text
    # The run really went through the failure kinds it claims to check.
    assert set(seen) >= {
        "AuthenticationError",
        "TransientError",
        "RateLimitedError",
        "MalformedResponseError",
        "ContentFilteredError",
        "InvalidRequestError",
    }
    assert caplog.records, "nothing was logged: the check would prove nothing"
