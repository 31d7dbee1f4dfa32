"""Fault injection and quota: each fault has the status, headers and body shape a client must handle."""

from __future__ import annotations

import base64
import json
import threading
import time

import httpx
import pytest

pytestmark = pytest.mark.integration

FAULT = "x-emulator-fault"


def test_injected_429_carries_retry_after_headers(clean_emulator):
    response = clean_emulator.generate(prompt="x", headers={FAULT: "429", "x-emulator-retry-after-ms": "1500"})
    assert response.status_code == 429
    assert response.headers["retry-after-ms"] == "1500"
    assert response.headers["retry-after"] == "2"
    assert response.json()["error"]["code"] == "429"
    assert "retry after 2 seconds" in response.json()["error"]["message"]
    assert clean_emulator.stats()["faults"] == {"429": 1}


def test_injected_500_is_a_server_error(clean_emulator):
    response = clean_emulator.generate(prompt="x", headers={FAULT: "500"})
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "server_error"


def test_malformed_response_is_not_json(clean_emulator):
    response = clean_emulator.generate(prompt="x", headers={FAULT: "malformed"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_hung_call_times_out_the_client_and_does_not_block_others(clean_emulator):
    outcome: dict[str, object] = {}

    def hang() -> None:
        try:
            clean_emulator.generate(prompt="x", headers={FAULT: "hang"}, timeout=1.0)
        except httpx.TimeoutException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=hang)
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    assert clean_emulator.generate(prompt="meanwhile", quality="low").status_code == 200
    assert time.monotonic() - started < 5
    thread.join(timeout=10)
    assert isinstance(outcome.get("error"), httpx.ReadTimeout)
    # The emulator notices the caller left and stops hanging (499, nginx's "client closed request").
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "499" not in clean_emulator.stats()["by_status"]:
        time.sleep(0.05)
    assert clean_emulator.stats()["by_status"].get("499") == 1


def test_hang_ends_with_a_gateway_timeout_when_the_client_waits(clean_emulator):
    clean_emulator.configure(hang_seconds=0.3)
    response = clean_emulator.generate(prompt="x", headers={FAULT: "hang"}, timeout=10)
    assert response.status_code == 504


def _assert_filter_results(error: dict, category: str) -> None:
    results = error["inner_error"]["content_filter_results"]
    assert set(results) == {"hate", "sexual", "violence", "self_harm"}
    for name, result in results.items():
        if name == category:
            assert result == {"filtered": True, "severity": "medium"}
        else:
            assert result == {"filtered": False, "severity": "safe"}


def test_input_content_filter_by_header_has_azures_shape(clean_emulator):
    response = clean_emulator.generate(prompt="a harmless lake", headers={FAULT: "content_filter_input"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"], error["type"]) == ("content_filter", "prompt", None)
    assert error["inner_error"]["code"] == "ResponsibleAIPolicyViolation"
    _assert_filter_results(error, "violence")


def test_input_content_filter_by_configured_term_names_its_category(clean_emulator):
    clean_emulator.configure(blocked_terms=["hate:forbidden-slogan"])
    response = clean_emulator.generate(prompt="A poster with the FORBIDDEN-SLOGAN on it")
    assert response.status_code == 400
    _assert_filter_results(response.json()["error"], "hate")
    assert clean_emulator.generate(prompt="A poster with a kind slogan", quality="low").status_code == 200


def test_output_moderation_has_openais_shape(clean_emulator):
    for response in (
        clean_emulator.generate(prompt="a lake", quality="low", headers={FAULT: "content_filter_output"}),
        clean_emulator.generate(prompt="a lake emulator-block-output", quality="low"),
    ):
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "moderation_blocked"
        assert "generated image" in error["message"]
        _assert_filter_results(error, "violence")
    assert clean_emulator.stats()["images_returned"] == 0


def test_default_input_trigger_term(clean_emulator):
    response = clean_emulator.generate(prompt="please emulator-block-input this")
    assert response.json()["error"]["code"] == "content_filter"


def test_rpm_quota_answers_429_with_a_retry_hint(clean_emulator):
    clean_emulator.configure(rpm=2)
    statuses = [clean_emulator.generate(prompt=f"call {i}", quality="low") for i in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert 0 < int(statuses[2].headers["retry-after-ms"]) <= 60_000
    assert "call rate limit" in statuses[2].json()["error"]["message"]
    assert statuses[1].headers["x-ratelimit-remaining-requests"] == "0"
    assert clean_emulator.stats()["faults"] == {"quota": 1}


def test_tpm_quota_counts_estimated_tokens(clean_emulator):
    clean_emulator.configure(tpm=8000)  # one 1024x1024 high image (7024 output tokens) fits, two do not
    first = clean_emulator.generate(prompt="a lake", quality="high")
    second = clean_emulator.generate(prompt="a lake", quality="high")
    assert first.status_code == 200
    assert second.status_code == 429
    assert "token rate limit" in second.json()["error"]["message"]
    assert clean_emulator.generate(prompt="a lake", quality="low").status_code == 200  # 272 tokens still fit


def test_latency_header_delays_the_answer(clean_emulator):
    started = time.monotonic()
    response = clean_emulator.generate(prompt="x", quality="low", headers={"x-emulator-latency-ms": "300-400"})
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert 0.3 <= elapsed < 3


def test_rate_headers_inject_faults_by_probability(clean_emulator):
    always = clean_emulator.generate(prompt="x", headers={"x-emulator-rate-429": "1"})
    never = clean_emulator.generate(prompt="x", quality="low", headers={"x-emulator-rate-500": "0"})
    assert always.status_code == 429
    assert never.status_code == 200


def test_configured_rates_mix_faults_reproducibly(clean_emulator):
    def run() -> list[int]:
        clean_emulator.reset()
        clean_emulator.configure(rate_429=0.3, rate_500=0.2, seed=7)
        return [clean_emulator.generate(prompt="x", quality="low", size="1024x1024").status_code for _ in range(12)]

    first = run()
    assert first == run()
    assert {200, 429} <= set(first)


def test_fault_queue_scripts_the_next_calls(clean_emulator):
    clean_emulator.configure(fault_queue=["429", "500"])
    statuses = [clean_emulator.generate(prompt="x", quality="low").status_code for _ in range(3)]
    assert statuses == [429, 500, 200]
    assert clean_emulator.config()["fault_queue"] == []


def test_bad_fault_header_is_a_400_naming_the_header(clean_emulator):
    response = clean_emulator.generate(prompt="x", headers={FAULT: "explode"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == FAULT


def test_many_calls_in_flight_overlap(clean_emulator):
    """Latency is an async sleep: 20 calls of 1 s each finish together, not one after another."""
    clean_emulator.configure(latency_ms=1000)
    results: list[int] = []

    def call() -> None:
        results.append(clean_emulator.generate(prompt="concurrent", quality="low", timeout=30).status_code)

    threads = [threading.Thread(target=call) for _ in range(20)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 20
    assert time.monotonic() - started < 8
    assert clean_emulator.stats()["max_in_flight"] >= 15


TEXT_FAULT = "x-emulator-text-fault"
COPY_PROMPT = 'Shop window poster with "Summer Sale: up to 50% off"'


def _b64(response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["data"][0]["b64_json"]


def test_text_fault_header_draws_the_copy_wrong_in_an_ordinary_response(clean_emulator):
    correct = _b64(clean_emulator.generate(prompt=COPY_PROMPT, quality="low"))
    response = clean_emulator.generate(prompt=COPY_PROMPT, quality="low", headers={TEXT_FAULT: "substitute"})
    faulted = _b64(response)
    assert faulted != correct
    assert set(response.json()) >= {"created", "data", "usage", "size", "output_format"}
    assert faulted == _b64(
        clean_emulator.generate(prompt=COPY_PROMPT, quality="low", headers={TEXT_FAULT: "substitute"})
    )
    stats = clean_emulator.stats()
    assert [call["text_fault"] for call in stats["recent"]] == [None, "substitute", "substitute"]
    assert stats["faults"] == {}  # the calls succeeded: a text fault is not an error


def test_text_fault_in_the_config_applies_to_every_call_until_reset(clean_emulator):
    by_header = _b64(clean_emulator.generate(prompt=COPY_PROMPT, quality="low", headers={TEXT_FAULT: "tiny"}))
    correct = _b64(clean_emulator.generate(prompt=COPY_PROMPT, quality="low"))
    assert clean_emulator.configure(text_fault="tiny")["text_fault"] == "tiny"
    assert _b64(clean_emulator.generate(prompt=COPY_PROMPT, quality="low")) == by_header
    # A header wins over the config; `none` asks for the copy as written.
    assert _b64(clean_emulator.generate(prompt=COPY_PROMPT, quality="low", headers={TEXT_FAULT: "none"})) == correct
    edit = clean_emulator.edit(image=base64.b64decode(correct), prompt=COPY_PROMPT, quality="low")
    assert edit.status_code == 200 and clean_emulator.stats()["recent"][-1]["text_fault"] == "tiny"
    assert clean_emulator.reset()["config"]["text_fault"] is None
    assert _b64(clean_emulator.generate(prompt=COPY_PROMPT, quality="low")) == correct


def test_unknown_text_faults_are_refused_naming_the_header_or_field(clean_emulator):
    response = clean_emulator.generate(prompt=COPY_PROMPT, headers={TEXT_FAULT: "smudge"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_emulator_header", TEXT_FAULT)
    assert "substitute" in error["message"]
    refused = httpx.post(f"{clean_emulator.base_url}/_emulator/config", json={"text_fault": "smudge"}, timeout=10)
    assert refused.status_code == 400
    assert (refused.json()["error"]["code"], refused.json()["error"]["param"]) == ("invalid_config", "text_fault")
    assert clean_emulator.config()["text_fault"] is None
    assert clean_emulator.stats()["images_returned"] == 0
