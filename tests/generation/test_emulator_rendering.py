"""Where the emulator draws: a render process gives the same bytes as the server's own threads, and the render pool
runs in processes of its own (so drawing cannot delay the quota's arrival stamps). The `foundry_emulator` command's
processes are tested in test_emulator_command.py."""

from __future__ import annotations

import asyncio
import io
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from generation.emulator.credentials import sign_answers
from generation.emulator.params import parse_edit, parse_generation
from generation.emulator.rendering import Renderer, render_all


def _png(size: tuple[int, int], colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _requests():
    body = {"prompt": 'A tea tin with "新茶" on it', "size": "1536x1024", "quality": "low", "n": 2}
    generation = parse_generation({**body, "output_format": "webp"}, deployment="gpt-image-2")
    edit = parse_edit(
        {"prompt": "Warmer light", "size": "1024x1024", "output_format": "png"},
        {"image": [_png((1024, 1024), "navy")]},
        deployment="gpt-image-2",
    )
    return generation, edit


def _run(coroutine):
    # In a thread of its own: the browser tests leave an event loop running in the main thread.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


async def _render_in(renderer: Renderer, requests) -> list[list[bytes]]:
    await renderer.start()
    try:
        return [await renderer.render(request, "full") for request in requests]
    finally:
        renderer.close()


@pytest.mark.integration
def test_a_render_process_draws_the_same_bytes_as_a_thread():
    requests = _requests()

    in_processes = _run(_render_in(Renderer(processes=1), requests))
    in_threads = _run(_render_in(Renderer(processes=0), requests))

    # The answers are signed (generation.emulator.credentials) in the server's process, which remembers the pictures
    # it signed: the same picture drawn anywhere gets the same signed bytes.
    drawn = [
        sign_answers(render_all(request, "full"), request.output_format, edit=request.kind != "generations")
        for request in requests
    ]
    assert in_processes == in_threads == drawn
    generated = [Image.open(io.BytesIO(data)) for data in in_processes[0]]
    assert [(image.format, image.size) for image in generated] == [("WEBP", (1536, 1024))] * 2
    assert generated[0].tobytes() != generated[1].tobytes()  # n=2: two pictures, not one twice


@pytest.mark.integration
def test_the_render_pool_runs_in_processes_of_its_own():
    parent = os.getpid()

    async def pids() -> set[int]:
        renderer = Renderer(processes=2)
        await renderer.start()
        try:
            loop = asyncio.get_running_loop()
            return set(await asyncio.gather(*(loop.run_in_executor(renderer._pool, os.getpid) for _ in range(8))))
        finally:
            renderer.close()

    workers = _run(pids())

    assert parent not in workers
    assert 1 <= len(workers) <= 2


def test_a_negative_process_count_is_refused():
    with pytest.raises(ValueError, match="must not be negative"):
        Renderer(processes=-1)
