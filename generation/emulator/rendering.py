"""Drawing an image call's pictures: in the emulator's own threads, or in processes of their own.

The emulator stamps a call's arrival for its quota on its event loop. A designed picture is ~40 ms of CPU, much of
it holding the GIL; drawn in threads of the same process, a round of answers starves the loop, and calls already on
its socket were stamped up to 1.2-1.9 s late (bench/quota.py --render full --render-processes 0; an httpcore trace
showed the worker writing each request 1-17 ms after its quota slot started). A call the platform's limiter had let
go one window earlier was then still in the emulator's window and answered 429, which Azure, whose front door shares
no GIL with its model, would not do. With `processes`, designed pictures are drawn in a process pool and the loop
keeps its GIL (transits at most ~0.1 s). Plain pictures are cached and cost ~0.1 ms: they stay in threads, where they
cost no pickling.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor

from starlette.concurrency import run_in_threadpool

from generation.emulator.credentials import sign_answers
from generation.emulator.images import RenderSpec, render_edit, render_generation, render_plain
from generation.emulator.params import ImageRequest

ORPHAN_CHECK_SECONDS = 0.5


def render_all(image_request: ImageRequest, render: str, text_fault: str | None = None) -> list[bytes]:
    """The call's `n` pictures (`render`: full or plain; `text_fault`: a TextFault value, designed pictures only)."""
    width, height = image_request.output_size
    spec = RenderSpec(
        prompt=image_request.prompt,
        width=width,
        height=height,
        quality=image_request.resolved_quality,
        output_format=image_request.output_format,
        output_compression=image_request.output_compression,
        transparent=image_request.transparent,
        text_fault=text_fault,
    )
    if image_request.kind == "generations":
        draw = render_plain if render == "plain" else render_generation
        return [draw(spec, index) for index in range(image_request.n)]
    return [
        render_edit(spec, index, images=image_request.images, mask=image_request.mask)
        for index in range(image_request.n)
    ]


def _start_render_process(parent: int) -> None:
    # Ctrl-C reaches the whole process group: the parent shuts the pool down, the children need not print tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A parent killed outright (SIGKILL, a crash) never shuts the pool down, and an idle render process waits on its
    # queue forever: it leaves when it is reparented.
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True, name="orphan-watch").start()


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_SECONDS)
    os._exit(0)


def _warm() -> None:
    # Imports, fonts and the first composition's caches, before the first call pays for them.
    render_generation(RenderSpec("warm up", 1024, 1024, "low", "jpeg", None, False), 0)


class Renderer:
    """Where an emulator's pictures are drawn: `processes` worker processes for designed pictures (0: threads)."""

    def __init__(self, processes: int = 0) -> None:
        if processes < 0:
            raise ValueError(f"render processes must not be negative (got {processes})")
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None

    async def start(self) -> None:
        if not self.processes:
            return
        # spawn, not fork: the emulator's process has threads (uvicorn's, Starlette's pool) a fork would copy mid-state.
        self._pool = ProcessPoolExecutor(
            self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_render_process,
            initargs=(os.getpid(),),
        )
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._pool, _warm) for _ in range(self.processes)))

    def close(self) -> None:
        if self._pool is not None:
            # Waiting: with wait=False the server's process exited before the pool's manager thread had told its
            # processes to stop, and they outlived it.
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    async def render(self, image_request: ImageRequest, render: str, text_fault: str | None = None) -> list[bytes]:
        """The call's pictures, signed with the emulator's C2PA manifest as Azure signs its answers."""
        if self._pool is None or (render == "plain" and image_request.kind == "generations"):
            pictures = await run_in_threadpool(render_all, image_request, render, text_fault)
        else:
            pictures = await asyncio.get_running_loop().run_in_executor(
                self._pool, render_all, image_request, render, text_fault
            )
        # Signed here, in this process, not in render_all: signatures and c2pa's box salts are random, and this
        # process remembers the last answers it signed, so the same request still answers the same bytes.
        return await run_in_threadpool(
            sign_answers, pictures, image_request.output_format, edit=image_request.kind != "generations"
        )
