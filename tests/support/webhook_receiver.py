"""A tiny HTTP receiver on 127.0.0.1 for webhook tests: answers from a script, records every request."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    url: str
    # Status codes to answer, in order; once used up, `then` for every later request.
    script: list[int] = field(default_factory=list)
    then: int = 200
    delay_seconds: float = 0.0
    requests: list[Received] = field(default_factory=list)

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.requests)


@contextmanager
def webhook_receiver(**options) -> Iterator[Receiver]:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.requests.append(Received(dict(self.headers), body, time.monotonic()))
            index = len(receiver.requests) - 1
            status = receiver.script[index] if index < len(receiver.script) else receiver.then
            if receiver.delay_seconds:
                time.sleep(receiver.delay_seconds)
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            # The sender may have given up waiting (a timeout test).
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(f"answer {status}".encode())

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks", **options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
