"""The Foundry client against the emulator over real HTTP: both URL styles, every fault, retries, bounds."""

from __future__ import annotations

import io
import socket
import threading
import time

import pytest
from PIL import Image

from generation.foundry.client import EditImage, FoundryImageClient, shared_client
from generation.foundry.config import ApiStyle, AuthKind, DeploymentConfig, Secret
from generation.foundry.errors import (
    AuthenticationError,
    ContentFilteredError,
    FilterStage,
    InvalidRequestError,
    MalformedResponseError,
    RateLimitedError,
    TransientError,
    UnknownOutcomeError,
    UnreachableError,
)
from generation.selectors.deployments import deployment_config_for
from generation.services.deployments import deployment_create
from generation.sizing import output_tokens

pytestmark = pytest.mark.integration

# The smallest legal landscape size (exactly the pixel floor): cheap to render.
WIDTH, HEIGHT = 1024, 640
SIZE = f"{WIDTH}x{HEIGHT}"


def _config(emulator, **changes) -> DeploymentConfig:
    fields = {
        "name": "emulator",
        "endpoint": emulator.base_url,
        "deployment": emulator.deployment,
        "api_version": emulator.api_version,
        "api_key": Secret(emulator.api_key),
        "read_timeout_seconds": 30,
        "max_attempts": 3,
        "max_retry_seconds": 30,
        "backoff_initial_seconds": 0.05,
        "backoff_max_seconds": 0.2,
    }
    fields.update(changes)
    return DeploymentConfig(**fields)


@pytest.fixture
def clients():
    """Builds clients that are closed after the test (connection pools do not leak across tests)."""
    made: list[FoundryImageClient] = []

    def make(config: DeploymentConfig, **kwargs) -> FoundryImageClient:
        made.append(FoundryImageClient(config, **kwargs))
        return made[-1]

    yield make
    for client in made:
        client.close()


class RecordingSleep:
    """Really sleeps (the emulator's clock is real), and remembers each wait the policy chose."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds)


def _png(size: tuple[int, int], *, mode: str = "RGB", color=(30, 90, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def _mask(size: tuple[int, int]) -> bytes:
    # Opaque everywhere except a transparent box: the area the edit may change.
    mask = Image.new("RGBA", size, (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG")
    return buffer.getvalue()


def _last_call(emulator) -> dict:
    return emulator.stats()["recent"][-1]


@pytest.mark.parametrize("api_style", [ApiStyle.DEPLOYMENTS, ApiStyle.V1])
@pytest.mark.parametrize("output_format", ["png", "webp"])
def test_generate_in_both_url_styles(clean_emulator, api_style, output_format):
    with FoundryImageClient(_config(clean_emulator, api_style=api_style)) as client:
        result = client.generate(
            prompt='A sunlit kitchen with a sign reading "Fresh"', size=SIZE, quality="low", output_format=output_format
        )
    (output,) = result.outputs
    assert (output.format, output.width, output.height) == (output_format, WIDTH, HEIGHT)
    assert result.usage.output_tokens == output_tokens(WIDTH, HEIGHT, "low")
    assert result.usage.text_input_tokens > 0 and result.usage.image_input_tokens == 0
    assert result.usage.total_tokens == result.usage.input_tokens + result.usage.output_tokens
    assert result.attempts == 1 and 0 < result.latency_seconds <= result.elapsed_seconds
    call = _last_call(clean_emulator)
    assert call["api"] == ("v1" if api_style is ApiStyle.V1 else "azure")
    assert (call["kind"], call["size"], call["deployment"]) == ("generations", SIZE, clean_emulator.deployment)
    assert result.provider_request_id and result.provider_request_id == call["request_id"]


def test_generate_several_images_in_one_call(clean_emulator):
    with FoundryImageClient(_config(clean_emulator)) as client:
        result = client.generate(prompt="Two takes on a red bicycle", size="640x1024", quality="low", n=2)
    assert [(o.width, o.height) for o in result.outputs] == [(640, 1024), (640, 1024)]
    assert result.outputs[0].data != result.outputs[1].data
    assert result.usage.output_tokens == 2 * output_tokens(640, 1024, "low")


@pytest.mark.parametrize("api_style", [ApiStyle.DEPLOYMENTS, ApiStyle.V1])
def test_edit_with_mask_in_both_url_styles(clean_emulator, api_style):
    source = _png((WIDTH, HEIGHT))
    with FoundryImageClient(_config(clean_emulator, api_style=api_style)) as client:
        result = client.edit(
            prompt="Add a lemon on the table", image=source, mask=_mask((WIDTH, HEIGHT)), quality="low", size=SIZE
        )
    (output,) = result.outputs
    assert (output.width, output.height) == (WIDTH, HEIGHT)
    assert output.data != source
    assert result.usage.image_input_tokens > 0
    call = _last_call(clean_emulator)
    assert call["api"] == ("v1" if api_style is ApiStyle.V1 else "azure")
    assert (call["kind"], call["input_images"], call["has_mask"]) == ("edits", 1, True)


def test_edit_with_several_input_images_and_jpeg_output(clean_emulator):
    images = [_png((WIDTH, HEIGHT)), EditImage(_png((WIDTH, HEIGHT), color=(250, 200, 0)), "logo.png", "image/png")]
    with FoundryImageClient(_config(clean_emulator)) as client:
        result = client.edit(prompt="Place the logo on the wall", image=images, size=SIZE, output_format="jpeg")
    assert result.outputs[0].format == "jpeg"
    call = _last_call(clean_emulator)
    assert (call["input_images"], call["has_mask"]) == (2, False)


@pytest.mark.parametrize(
    ("fault", "error_type"),
    [
        ("429", RateLimitedError),
        ("500", TransientError),
        ("malformed", MalformedResponseError),
        ("content_filter_input", ContentFilteredError),
        ("content_filter_output", ContentFilteredError),
    ],
)
def test_each_fault_maps_to_its_typed_error(clean_emulator, fault, error_type):
    with FoundryImageClient(_config(clean_emulator, max_attempts=1)) as client, pytest.raises(error_type) as caught:
        client.generate(prompt="a plain cube", size=SIZE, quality="low", extra_headers={"x-emulator-fault": fault})
    error = caught.value
    assert error.provider_request_id == _last_call(clean_emulator)["request_id"]
    assert error.attempts == 1
    if fault == "429":
        assert error.retryable and error.retry_after is not None
    if fault == "content_filter_input":
        assert (error.stage, error.filtered_categories, error.status_code) == (FilterStage.INPUT, ("violence",), 400)
        assert {r.category for r in error.results} == {"hate", "sexual", "violence", "self_harm"}
    if fault == "content_filter_output":
        assert (error.stage, error.code) == (FilterStage.OUTPUT, "moderation_blocked")
        assert error.filtered_categories == ("violence",)


def test_a_hang_is_an_unknown_outcome_and_is_never_sent_twice(clean_emulator):
    # The request reached the service and no answer came back: it may have been generated and billed, so the
    # client does not call again (before, a timeout was "transient" and retried: paid twice, unseen).
    config = _config(clean_emulator, read_timeout_seconds=0.5, max_attempts=4)
    started = time.monotonic()
    with FoundryImageClient(config) as client, pytest.raises(UnknownOutcomeError) as caught:
        client.generate(prompt="a slow cube", size=SIZE, quality="low", extra_headers={"x-emulator-fault": "hang"})
    elapsed = time.monotonic() - started
    assert caught.value.attempts == 1 and not caught.value.retryable
    assert "timed out" in caught.value.message
    assert clean_emulator.stats()["calls"]["generations"] == 1
    assert 0.5 <= elapsed < 2.0


def test_total_time_budget_cuts_the_last_attempt_short(clean_emulator):
    config = _config(clean_emulator, read_timeout_seconds=20, max_attempts=10, max_retry_seconds=1.5)
    started = time.monotonic()
    with FoundryImageClient(config) as client, pytest.raises(UnknownOutcomeError):
        client.generate(prompt="a slow cube", size=SIZE, quality="low", extra_headers={"x-emulator-fault": "hang"})
    # The read timeout shrinks to what is left of the budget (floored at 1 s per attempt): one attempt, cut short.
    assert time.monotonic() - started < 2.5


def test_rate_limits_are_retried_after_the_servers_hint_then_succeed(clean_emulator):
    clean_emulator.configure(fault_queue=["429", "429"], retry_after_ms=300)
    sleep = RecordingSleep()
    started = time.monotonic()
    with FoundryImageClient(_config(clean_emulator, max_attempts=4), sleep=sleep) as client:
        result = client.generate(prompt="a patient cube", size=SIZE, quality="low")
    assert result.attempts == 3 and len(result.outputs) == 1
    assert len(sleep.waits) == 2 and all(wait >= 0.3 for wait in sleep.waits)
    assert result.elapsed_seconds >= 0.6 and time.monotonic() - started >= 0.6
    stats = clean_emulator.stats()
    assert stats["by_status"] == {"429": 2, "200": 1}


def test_every_retry_is_admitted_by_the_callers_limiter_first(clean_emulator):
    """A retry counts against the deployment's quota like the first call: the limiter must see it."""
    clean_emulator.configure(fault_queue=["429", "500"], retry_after_ms=10)
    admitted: list[int] = []

    def admit() -> None:
        admitted.append(clean_emulator.stats()["image_calls"])  # calls the provider saw before this retry

    with FoundryImageClient(_config(clean_emulator, max_attempts=4), sleep=RecordingSleep()) as client:
        result = client.generate(prompt="a patient cube", size=SIZE, quality="low", before_retry=admit)
    assert result.attempts == 3 and admitted == [1, 2]

    class NoSlot(Exception):
        pass

    def refuse() -> None:
        raise NoSlot

    clean_emulator.configure(fault_queue=["429"])
    # The limiter's refusal ends the call: no retry behind its back.
    config = _config(clean_emulator, max_attempts=4)
    with FoundryImageClient(config, sleep=RecordingSleep()) as client, pytest.raises(NoSlot):
        client.generate(prompt="a patient cube", size=SIZE, quality="low", before_retry=refuse)
    assert clean_emulator.stats()["image_calls"] == 4


def test_rate_limits_exhaust_the_attempts(clean_emulator, clients):
    sleep = RecordingSleep()
    headers = {"x-emulator-fault": "429", "x-emulator-retry-after-ms": "100"}
    client = clients(_config(clean_emulator, max_attempts=3), sleep=sleep)
    with pytest.raises(RateLimitedError) as caught:
        client.generate(prompt="an impatient cube", size=SIZE, quality="low", extra_headers=headers)
    assert caught.value.attempts == 3
    assert caught.value.retry_after == pytest.approx(0.1)
    assert len(sleep.waits) == 2 and all(wait >= 0.1 for wait in sleep.waits)
    assert clean_emulator.stats()["by_status"] == {"429": 3}


def test_server_errors_exhaust_bounded_attempts(clean_emulator, clients):
    sleep = RecordingSleep()
    client = clients(_config(clean_emulator, max_attempts=3), sleep=sleep)
    with pytest.raises(TransientError) as caught:
        client.generate(prompt="a broken cube", size=SIZE, quality="low", extra_headers={"x-emulator-fault": "500"})
    assert caught.value.attempts == 3 and caught.value.status_code == 500
    assert clean_emulator.stats()["by_status"] == {"500": 3}
    assert len(sleep.waits) == 2


def test_a_deployment_quota_429_is_retried_like_a_throttle(clean_emulator):
    clean_emulator.configure(rpm=1)
    sleep = RecordingSleep()
    with FoundryImageClient(_config(clean_emulator, max_attempts=2, max_retry_seconds=2), sleep=sleep) as client:
        client.generate(prompt="first of the minute", size=SIZE, quality="low")
        with pytest.raises(RateLimitedError) as caught:
            client.generate(prompt="second of the minute", size=SIZE, quality="low")
    # The window frees up in about a minute: longer than the budget, so no wait is taken.
    assert caught.value.retry_after > 2 and caught.value.attempts == 1 and sleep.waits == []


@pytest.mark.parametrize(
    ("prompt", "headers"),
    [
        ("a cube", {"x-emulator-fault": "content_filter_input"}),
        ("a cube with emulator-block-input", {}),
        ("a cube with emulator-block-output", {}),
    ],
)
def test_content_filter_is_never_retried(clean_emulator, clients, prompt, headers):
    client = clients(_config(clean_emulator, max_attempts=4))
    with pytest.raises(ContentFilteredError) as caught:
        client.generate(prompt=prompt, size=SIZE, quality="low", extra_headers=headers)
    assert caught.value.attempts == 1 and not caught.value.retryable
    assert clean_emulator.image_calls() == 1
    expected = FilterStage.OUTPUT if "output" in prompt else FilterStage.INPUT
    assert caught.value.stage is expected


def test_invalid_request_is_not_retried_and_names_the_param(clean_emulator, clients):
    client = clients(_config(clean_emulator, max_attempts=4))
    with pytest.raises(InvalidRequestError) as caught:
        client.generate(prompt="a cube", size="1000x1000", quality="low")
    assert caught.value.param == "size" and caught.value.status_code == 400
    assert clean_emulator.image_calls() == 1


def test_connection_refused_is_transient_and_bounded():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = DeploymentConfig(
        name="nowhere",
        endpoint=f"http://127.0.0.1:{port}",
        deployment="d",
        api_key=Secret("k"),
        max_attempts=2,
        backoff_initial_seconds=0.01,
        backoff_max_seconds=0.02,
    )
    with FoundryImageClient(config) as client, pytest.raises(UnreachableError) as caught:
        client.generate(prompt="a cube", size=SIZE)
    # Nothing was sent: safe to try again (an UnreachableError is a TransientError).
    assert isinstance(caught.value, TransientError)
    assert caught.value.attempts == 2 and "could not reach the service" in caught.value.message


def test_wrong_key_is_an_authentication_error_and_not_retried(clean_emulator, clients):
    clean_emulator.configure(api_keys=["the-right-key"])
    client = clients(_config(clean_emulator, api_key=Secret("a-wrong-key")))
    with pytest.raises(AuthenticationError) as caught:
        client.generate(prompt="a cube", size=SIZE, quality="low")
    assert caught.value.status_code == 401 and caught.value.attempts == 1
    assert clean_emulator.image_calls() == 1


class RotatingTokens:
    """An Entra token source whose cached token was revoked: only a forced refresh gives a valid one."""

    def __init__(self) -> None:
        self.refreshes = 0

    def get_token(self, *, force_refresh: bool = False) -> Secret:
        if force_refresh:
            self.refreshes += 1
            return Secret("fresh-token")
        return Secret("revoked-token")


def test_entra_bearer_token_is_refreshed_once_on_401(clean_emulator):
    clean_emulator.configure(api_keys=["fresh-token"])
    tokens = RotatingTokens()
    config = _config(clean_emulator, auth_kind=AuthKind.ENTRA, api_key=None, token_provider=tokens)
    with FoundryImageClient(config) as client:
        result = client.generate(prompt="a cube", size=SIZE, quality="low")
    assert len(result.outputs) == 1 and tokens.refreshes == 1
    assert clean_emulator.stats()["by_status"] == {"401": 1, "200": 1}


def test_extra_headers_cannot_replace_the_deployments_credentials(clean_emulator):
    with FoundryImageClient(_config(clean_emulator)) as client, pytest.raises(ValueError):
        client.generate(prompt="a cube", size=SIZE, extra_headers={"API-Key": "smuggled"})
    assert clean_emulator.image_calls() == 0


def test_a_tenants_deployment_row_drives_the_client(clean_emulator, tenant_a):
    tenant_key = "tenant-a-own-key-5e6f7a8b"
    clean_emulator.configure(api_keys=[tenant_key])
    deployment_create(
        tenant=tenant_a,
        name="own",
        endpoint=clean_emulator.base_url,
        deployment="brand-a-images",
        api_style=ApiStyle.V1,
        api_key=tenant_key,
        is_default=True,
    )
    with FoundryImageClient(deployment_config_for(tenant=tenant_a)) as client:
        result = client.generate(prompt="a cube in brand colours", size=SIZE, quality="low")
    assert len(result.outputs) == 1
    call = _last_call(clean_emulator)
    assert (call["api"], call["deployment"]) == ("v1", "brand-a-images")


def test_one_shared_client_per_configuration_serves_many_threads(clean_emulator):
    config = _config(clean_emulator)
    client = shared_client(config)
    assert shared_client(_config(clean_emulator)) is client  # an equal configuration built again: the same client
    rotated = shared_client(_config(clean_emulator, api_key=Secret("rotated-key")))
    assert rotated is not client and rotated.config.api_key == Secret("rotated-key")

    statuses: list[str] = []

    def call(index: int) -> None:
        result = client.generate(prompt=f"shared {index}", size=SIZE, quality="low")
        statuses.append(result.outputs[0].format)

    threads = [threading.Thread(target=call, args=(index,)) for index in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == ["png"] * 12
    assert clean_emulator.stats()["calls"]["generations"] == 12
