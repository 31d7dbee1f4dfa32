"""`python manage.py foundry_emulator` starts the emulator with its options, as the README says."""

from __future__ import annotations

import base64
import io
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.core.management import CommandError, call_command
from PIL import Image, ImageFont

from generation.emulator import text

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(tmp_path: Path, *options: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    log = (tmp_path / "emulator.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "foundry_emulator", "--port", str(port), *options],
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{base}/_emulator/stats", timeout=1)
            return process, base
        except httpx.TransportError:
            assert process.poll() is None, (tmp_path / "emulator.log").read_text()
            assert time.monotonic() < deadline, "the emulator did not start"
            time.sleep(0.2)


def _children(pid: int) -> set[int]:
    tasks = Path(f"/proc/{pid}/task").iterdir()
    return {int(child) for task in tasks for child in (task / "children").read_text().split()}


def _running(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except FileNotFoundError:
            continue
        if state != "Z":  # a zombie has exited; only its parent's wait is missing
            alive.add(pid)
    return alive


def _gone_within(pids: set[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _running(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _running(pids)


@pytest.mark.integration
def test_the_command_serves_the_api_with_its_start_options(tmp_path):
    process, base = _start(tmp_path, "--rpm", "2", "--block-term", "hate:zzz")
    try:
        url = f"{base}/openai/deployments/gpt-image-2/images/generations?api-version=2025-04-01-preview"
        headers = {"api-key": "k"}
        # The refused prompt still counts against the RPM quota, as on the service.
        filtered = httpx.post(url, json={"prompt": "zzz"}, headers=headers, timeout=30)
        first = httpx.post(url, json={"prompt": "a lake", "quality": "low"}, headers=headers, timeout=30)
        second = httpx.post(url, json={"prompt": "a lake", "quality": "low"}, headers=headers, timeout=30)
        assert filtered.json()["error"]["inner_error"]["content_filter_results"]["hate"]["filtered"] is True
        assert (first.status_code, second.status_code) == (200, 429)
        assert first.headers["x-emulator"].startswith("foundry-emulator")
        (image,) = first.json()["data"]
        assert Image.open(io.BytesIO(base64.b64decode(image["b64_json"]))).size == (1024, 1024)
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.mark.integration
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_render_processes_do_not_outlive_the_server(tmp_path, signum):
    process, _ = _start(tmp_path, "--render-processes", "2")
    try:
        helpers = _children(process.pid)
        assert len(helpers) >= 2  # the render processes (and multiprocessing's resource tracker)

        process.send_signal(signum)
        process.wait(timeout=15)
    finally:
        process.kill()

    # SIGTERM: the server shuts its pool down; SIGKILL: each render process notices it was orphaned.
    assert _gone_within(helpers, 5), f"left running: {_running(helpers)}"


def test_bad_start_options_are_a_command_error():
    with pytest.raises(CommandError, match="latency_ms"):
        call_command("foundry_emulator", "--latency-ms", "slow")
    with pytest.raises(CommandError, match="rate_429"):
        call_command("foundry_emulator", "--rate-429", "2")
    with pytest.raises(CommandError, match="text-fault"):
        call_command("foundry_emulator", "--text-fault", "smudge")
    with pytest.raises(CommandError, match="--render-processes must not be negative"):
        call_command("foundry_emulator", "--render-processes", "-1")


def test_a_missing_font_falls_back_loudly(caplog):
    with caplog.at_level(logging.WARNING, logger="generation.emulator.text"):
        font = text.load_font(text.Face("NotoSansNowhere-{weight}.ttf"), 20)
    assert isinstance(font, ImageFont.FreeTypeFont | ImageFont.ImageFont)
    assert "NotoSansNowhere-{weight}.ttf not found" in caplog.text
