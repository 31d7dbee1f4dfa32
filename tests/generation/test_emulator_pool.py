"""The emulator serving a pool of deployments, over real HTTP: per-deployment quota, region, outages (posted and
scheduled), throttle bursts, the published latency model scaled by time_scale, and the usage export an operator
reconciles against (including the call whose caller left before the answer)."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from PIL import Image

from generation.emulator.latency import published_range

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

DEPLOYMENT_NOT_FOUND = {
    "error": {
        "code": "DeploymentNotFound",
        "message": "The API deployment for this resource does not exist. If you created the deployment within the "
        "last 5 minutes, please wait a moment and try again.",
    }
}


def _call(emulator, deployment: str, *, headers: dict | None = None, timeout: float = 30, **body) -> httpx.Response:
    body.setdefault("prompt", "a plain poster")
    body.setdefault("quality", "low")
    return httpx.post(
        emulator.generations_url(deployment), json=body, headers=emulator.headers(headers), timeout=timeout
    )


def _usage(emulator, **params) -> httpx.Response:
    response = httpx.get(f"{emulator.base_url}/_emulator/usage", params=params, timeout=10)
    response.raise_for_status()
    return response


def _rows(emulator, **params) -> list[dict]:
    return _usage(emulator, format="json", **params).json()["data"]


@pytest.fixture
def pool(clean_emulator):
    """Two deployments in two regions; plain pictures keep the calls cheap."""
    clean_emulator.configure(
        render="plain",
        deployments={
            "east": {"rpm": 1, "region": "eastus", "data_zone": "us", "deployment_type": "data_zone"},
            "sweden": {"rpm": 5, "tpm": 100_000, "region": "swedencentral", "data_zone": "eu"},
        },
    )
    yield clean_emulator
    clean_emulator.reset()  # back to the start config: no pool, for the tests after this one


def test_each_deployment_has_its_own_quota_and_region(pool):
    first = _call(pool, "east")
    assert first.status_code == 200
    assert first.headers["x-ms-region"] == "eastus"
    assert first.headers["x-ratelimit-limit-requests"] == "1"
    assert first.headers["x-ratelimit-remaining-requests"] == "0"

    refused = _call(pool, "east")
    assert refused.status_code == 429
    assert 55_000 <= int(refused.headers["retry-after-ms"]) <= 60_000
    assert "have exceeded call rate limit" in refused.json()["error"]["message"]
    assert refused.headers["x-ms-region"] == "eastus"
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"

    # The other deployment's window is its own: it still serves, and says its own limits.
    served = _call(pool, "sweden")
    assert served.status_code == 200
    assert served.headers["x-ms-region"] == "swedencentral"
    assert served.headers["x-ratelimit-limit-requests"] == "5"
    assert served.headers["x-ratelimit-remaining-requests"] == "4"
    assert served.headers["x-ratelimit-limit-tokens"] == "100000"
    assert int(served.headers["x-ratelimit-remaining-tokens"]) == 100_000 - served.json()["usage"]["total_tokens"]

    deployments = pool.stats()["deployments"]
    assert deployments["east"] == {
        "calls": 2,
        "by_status": {"200": 1, "429": 1},
        "in_flight": 0,
        "max_in_flight": 1,
        "region": "eastus",
        "data_zone": "us",
        "deployment_type": "data_zone",
    }
    assert deployments["sweden"]["by_status"] == {"200": 1}
    assert pool.stats()["faults"] == {"quota": 1}


def test_v1_calls_are_routed_by_model(pool):
    response = httpx.post(
        f"{pool.v1_base_url}/images/generations",
        json={"model": "sweden", "prompt": "x", "quality": "low"},
        headers=pool.headers(),
        timeout=30,
    )
    assert response.status_code == 200
    assert response.headers["x-ms-region"] == "swedencentral"
    assert pool.stats()["deployments"]["sweden"]["calls"] == 1


def test_an_unknown_deployment_is_azures_404_and_no_pool_serves_any_name(pool):
    for response in (
        _call(pool, "gpt-image-2"),
        httpx.post(
            f"{pool.v1_base_url}/images/generations",
            json={"model": "nope", "prompt": "x"},
            headers=pool.headers(),
            timeout=30,
        ),
    ):
        assert response.status_code == 404
        assert response.json() == DEPLOYMENT_NOT_FOUND
    assert _rows(pool) == []

    # Clearing the pool is the single-deployment mode again: any name, one global quota.
    pool.configure(deployments=None)
    assert _call(pool, "anything-at-all").status_code == 200
    assert pool.stats()["deployments"] == {}


@pytest.mark.parametrize(
    ("down", "status", "code"),
    [("503", 503, "ServiceUnavailable"), ("404", 404, "DeploymentNotFound"), ("401", 401, "401")],
)
def test_a_down_deployment_refuses_at_once_and_bills_nothing(pool, down, status, code):
    # A 5 s latency would show if the refusal came after "generating".
    pool.configure(deployments={"east": {"down": down, "latency": 5000}})
    started = time.monotonic()
    response = _call(pool, "east", headers={"x-ms-client-request-id": "down-call"})
    assert time.monotonic() - started < 2
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.headers["x-ms-region"] == "eastus"
    assert _rows(pool) == []
    assert pool.stats()["deployments"]["east"]["by_status"] == {str(status): 1}
    assert pool.stats()["faults"] == {f"down_{down}": 1}

    # Nothing was charged to its window: back up, its one request a minute is still there.
    config = pool.configure(deployments={"east": {"down": False, "latency": 0}})
    assert config["deployments"]["east"]["down"] is False
    assert config["deployments"]["east"]["rpm"] == 1  # the POST merged into east only
    assert config["deployments"]["sweden"]["region"] == "swedencentral"
    assert _call(pool, "east").status_code == 200
    assert len(_rows(pool)) == 1


def test_a_scheduled_outage_starts_and_ends_without_calling_config(pool):
    # 50 and 150 emulated seconds at time_scale 0.02: down from 1 s to 3 s of real time after the post.
    pool.configure(
        time_scale=0.02,
        deployments={
            "east": {
                "rpm": 0,
                "schedule": [
                    {"after_seconds": 150, "set": {"down": False}},
                    {"after_seconds": 50, "set": {"down": "503"}},
                ],
            }
        },
    )
    posted = time.monotonic()
    assert _call(pool, "east").status_code == 200

    time.sleep(max(0.0, posted + 1.4 - time.monotonic()))
    assert _call(pool, "east").status_code == 503
    assert _call(pool, "sweden").status_code == 200  # the other region is not part of the outage
    assert pool.config()["deployments"]["east"]["down"] == "503"

    time.sleep(max(0.0, posted + 3.4 - time.monotonic()))
    assert _call(pool, "east").status_code == 200
    state = pool.config()["deployments"]["east"]
    assert state["down"] is False
    assert state["schedule_done"] == 2
    assert state["seconds_since_schedule"] >= 170  # reported in emulated seconds
    assert pool.stats()["deployments"]["east"]["by_status"] == {"200": 2, "503": 1}


def test_a_throttle_burst_refuses_k_calls_from_the_nth_though_the_window_has_room(pool):
    pool.configure(deployments={"sweden": {"rpm": 100, "throttle_burst": {"at_call": 2, "count": 2}}})
    statuses = [_call(pool, "sweden") for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 429, 429, 200]
    assert statuses[1].headers["retry-after-ms"] == "1000"  # the config's retry_after_ms
    assert statuses[1].headers["retry-after"] == "1"
    # The refused calls were not charged: two admitted calls of a hundred.
    assert statuses[3].headers["x-ratelimit-remaining-requests"] == "98"
    assert pool.stats()["faults"] == {"throttle_burst": 2}
    assert pool.config()["deployments"]["sweden"]["throttle_burst_fired"] == 2


def test_a_throttle_burst_at_an_emulated_time(pool):
    # 50 emulated seconds at 0.01: the first call after 0.5 s of real time is refused, the next served.
    pool.configure(
        time_scale=0.01,
        deployments={"sweden": {"retry_after_ms": 2500, "throttle_burst": {"at_seconds": 50, "count": 1}}},
    )
    posted = time.monotonic()
    assert _call(pool, "sweden").status_code == 200
    time.sleep(max(0.0, posted + 0.8 - time.monotonic()))
    refused = _call(pool, "sweden")
    assert refused.status_code == 429
    assert refused.headers["retry-after-ms"] == "2500"  # the deployment's own retry hint
    assert _call(pool, "sweden").status_code == 200


def _durations_ms(emulator, deployment: str) -> list[int]:
    return [
        c["duration_ms"] for c in emulator.stats()["recent"] if c["deployment"] == deployment and c["status"] == 200
    ]


@pytest.mark.parametrize(
    ("quality", "size", "n", "slow_factor"),
    [
        ("low", "1024x1024", 1, 1.0),
        ("high", "1024x1024", 1, 1.0),
        ("high", "1536x1024", 3, 1.0),
        ("low", "1024x1024", 1, 3.0),
    ],
)
def test_published_latency_is_scaled_by_time_scale(pool, quality, size, n, slow_factor):
    time_scale = 0.004
    pool.configure(
        time_scale=time_scale,
        seed=7,
        deployments={"sweden": {"latency": "published", "slow_factor": slow_factor, "rpm": 0, "tpm": 0}},
    )
    width, height = (int(edge) for edge in size.split("x"))
    low, high = published_range(quality=quality, width=width, height=height, n=n)
    low_ms, high_ms = low * slow_factor * time_scale * 1000, high * slow_factor * time_scale * 1000
    for _ in range(3):
        started = time.monotonic()
        assert _call(pool, "sweden", quality=quality, size=size, n=n).status_code == 200
        assert time.monotonic() - started >= low_ms / 1000
    for duration in _durations_ms(pool, "sweden"):
        # The draw lies in the range; the call may add its own overhead on a busy machine, never less.
        assert low_ms - 1 <= duration <= high_ms + 400


def test_published_ranges_follow_the_brief():
    assert published_range(quality="low", width=1024, height=1024, n=1) == (16.0, 22.0)
    assert published_range(quality="medium", width=1024, height=1024, n=1) == (39.0, 43.0)
    assert published_range(quality="high", width=1024, height=1024, n=1) == (120.0, 180.0)
    # Sub-linear in pixels: 1.5x the pixels is sqrt(1.5) = 1.22x the time ("up to ~4 min at 1536x1024").
    low, high = published_range(quality="high", width=1536, height=1024, n=1)
    assert (round(low, 1), round(high, 1)) == (147.0, 220.5)
    # n images in parallel: 1 + 0.1 per extra image.
    assert published_range(quality="low", width=1024, height=1024, n=4) == pytest.approx((20.8, 28.6))


def test_the_usage_export_lists_billable_answers_as_json_and_csv(pool):
    before = datetime.now(UTC) - timedelta(seconds=1)
    billed = [
        _call(pool, "east", headers={"x-ms-client-request-id": "job-1-attempt-1"}),
        _call(pool, "sweden", quality="high", size="1536x1024", n=2),
    ]
    assert [r.status_code for r in billed] == [200, 200]
    assert _call(pool, "east").status_code == 429  # refused: not billed
    assert _call(pool, "sweden", prompt="emulator-block-input").status_code == 400  # input filter: not billed
    assert _call(pool, "sweden", prompt="emulator-block-output").status_code == 400  # blocked output: not billed

    rows = _rows(pool)
    assert [row["request_id"] for row in rows] == [r.headers["apim-request-id"] for r in billed]
    east, sweden = rows
    usage = billed[0].json()["usage"]
    assert east == {
        "time": east["time"],
        "deployment": "east",
        "region": "eastus",
        "operation": "ImageGenerations_Create",
        "request_id": billed[0].headers["apim-request-id"],
        "client_request_id": "job-1-attempt-1",
        "status": 200,
        "input_tokens": usage["input_tokens"],
        "output_tokens": usage["output_tokens"],
        "total_tokens": usage["total_tokens"],
        "images": 1,
        "quality": "low",
        "size": "1024x1024",
        "data_zone": "us",
        "deployment_type": "data_zone",
        "client_disconnected": False,
    }
    assert datetime.fromisoformat(east["time"].replace("Z", "+00:00")) >= before
    assert (sweden["images"], sweden["quality"], sweden["size"]) == (2, "high", "1536x1024")
    assert sweden["total_tokens"] == billed[1].json()["usage"]["total_tokens"]

    assert [row["deployment"] for row in _rows(pool, deployment="sweden")] == ["sweden"]
    assert _rows(pool, since=(datetime.now(UTC) + timedelta(minutes=1)).isoformat()) == []
    assert len(_rows(pool, since=before.isoformat())) == 2

    exported = _usage(pool, format="csv")
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert [row["request_id"] for row in table] == [row["request_id"] for row in rows]
    assert table[0]["client_request_id"] == "job-1-attempt-1"
    assert table[0]["total_tokens"] == str(usage["total_tokens"])
    assert table[1]["client_request_id"] == ""

    bad = httpx.get(f"{pool.base_url}/_emulator/usage", params={"since": "yesterday"}, timeout=10)
    assert bad.status_code == 400

    pool.reset(restore_config=False)  # the export is cleared with the stats
    assert _rows(pool) == []


def _wait_for_calls(emulator, count: int, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while emulator.stats()["image_calls"] < count:
        assert time.monotonic() < deadline, emulator.stats()
        time.sleep(0.05)


def test_a_call_whose_caller_left_is_still_generated_billed_and_exported(pool):
    pool.configure(deployments={"sweden": {"latency": 1200}})
    client_request_id = str(uuid.uuid4())
    with pytest.raises(httpx.ReadTimeout):
        _call(pool, "sweden", headers={"x-ms-client-request-id": client_request_id}, timeout=0.3)
    assert _rows(pool) == []  # still generating
    _wait_for_calls(pool, 1)

    [row] = _rows(pool)
    assert row["client_request_id"] == client_request_id
    assert row["status"] == 200
    assert row["client_disconnected"] is True
    assert row["total_tokens"] > 0
    [call] = pool.stats()["recent"]
    assert (call["status"], call["client_disconnected"], call["images"]) == (200, True, 1)
    assert call["duration_ms"] >= 1200  # the latency ran to its end
    assert pool.stats()["tokens"]["total"] == row["total_tokens"]
    [line] = list(csv.DictReader(io.StringIO(_usage(pool, format="csv").text)))
    assert (line["client_request_id"], line["client_disconnected"]) == (client_request_id, "True")


def test_bill_disconnected_false_stops_the_call_when_its_caller_leaves(pool):
    pool.configure(deployments={"sweden": {"latency": 1200, "bill_disconnected": False}})
    with pytest.raises(httpx.ReadTimeout):
        _call(pool, "sweden", timeout=0.3)
    _wait_for_calls(pool, 1)
    assert pool.stats()["by_status"] == {"499": 1}
    assert _rows(pool) == []


def test_without_a_pool_a_caller_leaving_still_stops_the_call_unbilled(clean_emulator):
    # The single-deployment mode keeps its behaviour; its successful calls are exported all the same.
    clean_emulator.configure(render="plain", latency_ms=1200)
    with pytest.raises(httpx.ReadTimeout):
        clean_emulator.generate(prompt="x", quality="low", timeout=0.3)
    _wait_for_calls(clean_emulator, 1)
    assert clean_emulator.stats()["by_status"] == {"499": 1}
    clean_emulator.configure(latency_ms=0)
    answered = clean_emulator.generate(prompt="x", quality="low")
    [row] = _rows(clean_emulator)
    assert row["request_id"] == answered.headers["apim-request-id"]
    assert (row["deployment"], row["region"]) == (clean_emulator.deployment, None)
    assert "x-ms-region" not in answered.headers


def test_the_usage_export_keeps_the_newest_rows(pool):
    pool.configure(usage_limit=2, deployments={"sweden": {"rpm": 0}})
    answers = [_call(pool, "sweden") for _ in range(3)]
    exported = _usage(pool).json()
    assert [row["request_id"] for row in exported["data"]] == [r.headers["apim-request-id"] for r in answers[1:]]
    assert exported["dropped"] == 1


@pytest.mark.parametrize(
    ("deployments", "param"),
    [
        ({"east": {"down": "502"}}, "deployments.east.down"),
        ({"east": {"rmp": 5}}, "deployments.east"),
        ({"east": {"throttle_burst": {"count": 2}}}, "deployments.east.throttle_burst"),
        (
            {"east": {"schedule": [{"after_seconds": 5, "set": {"latency": "fast"}}]}},
            "deployments.east.schedule[0].set.latency",
        ),
        ({"new": {"data_zone": "asia"}}, "deployments.new.data_zone"),
    ],
)
def test_an_invalid_deployment_config_is_refused_and_changes_nothing(pool, deployments, param):
    before = pool.config()
    response = httpx.post(f"{pool.base_url}/_emulator/config", json={"rpm": 7, "deployments": deployments}, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_config"
    assert response.json()["error"]["param"] == param
    after = pool.config()
    assert after["rpm"] == before["rpm"]
    assert after["deployments"].keys() == before["deployments"].keys()
    assert after["deployments"]["east"]["down"] is False


def test_edits_are_served_and_exported_per_deployment(pool):
    buffer = io.BytesIO()
    Image.new("RGB", (1024, 1024), (40, 90, 160)).save(buffer, format="PNG")
    response = httpx.post(
        pool.edits_url("sweden"),
        data={"prompt": "make it warmer", "quality": "low"},
        files=[("image", ("input.png", buffer.getvalue(), "image/png"))],
        headers=pool.headers({"x-ms-client-request-id": "edit-1"}),
        timeout=30,
    )
    assert response.status_code == 200
    [row] = _rows(pool)
    assert (row["operation"], row["deployment"], row["client_request_id"]) == ("ImageEdits_Create", "sweden", "edit-1")
    assert row["input_tokens"] == response.json()["usage"]["input_tokens"] > 765  # the input image's tokens too


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_command_takes_the_pool_from_the_environment(tmp_path):
    port = _free_port()
    pool = {"deployments": {"east": {"rpm": 6, "region": "eastus"}, "west": {"latency": "published"}}}
    log = (tmp_path / "emulator.log").open("wb")
    options = ["--port", str(port), "--render-processes", "0", "--time-scale", "0.001", "--render", "plain"]
    process = subprocess.Popen(
        [sys.executable, "manage.py", "foundry_emulator", *options],
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "EMULATOR_DEPLOYMENTS": json.dumps(pool)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                config = httpx.get(f"{base}/_emulator/config", timeout=1).json()
                break
            except httpx.TransportError:
                assert process.poll() is None, (tmp_path / "emulator.log").read_text()
                assert time.monotonic() < deadline, "the emulator did not start"
                time.sleep(0.2)
        assert config["time_scale"] == 0.001
        assert config["deployments"]["east"]["rpm"] == 6
        assert config["deployments"]["west"]["latency"] == "published"
        url = f"{base}/openai/deployments/east/images/generations?api-version=2025-04-01-preview"
        answer = httpx.post(url, json={"prompt": "x", "quality": "low"}, headers={"api-key": "k"}, timeout=30)
        assert (answer.status_code, answer.headers["x-ms-region"]) == (200, "eastus")
        missing = httpx.post(url.replace("/east/", "/north/"), json={"prompt": "x"}, headers={"api-key": "k"})
        assert missing.json() == DEPLOYMENT_NOT_FOUND
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)
