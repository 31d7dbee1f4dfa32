"""Committed changes pushed from Postgres to every process: what keeps in-process caches honest.

Triggers (migrations `tenants 0003`, `dam 0007`, `generation 0004`) NOTIFY a channel whenever rows a cache depends
on change. Postgres delivers a notification only when its transaction commits, to every
listening connection, whoever wrote the rows: a service, the admin, a raw UPDATE, psql. One
daemon thread per process LISTENs and hands each notification to the caches subscribed to
its channel, which drop what it names.

A cache may serve only while `change_feed.live()` is true. Before the listener has connected,
after its connection dropped (until it reconnects, which empties every cache again) and inside
a transaction (which may read its own uncommitted writes, which nobody has announced yet),
reads go to the database. Behind a pooler in transaction mode LISTEN does not work: set
CHANGE_FEED=0 there and the caches stay off.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

import psycopg
from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)

AUTH_CHANNEL = "dam_auth"
STOREFRONT_CHANNEL = "dam_storefront"
JOBS_CHANNEL = "dam_jobs"
CHANNELS = (AUTH_CHANNEL, STOREFRONT_CHANNEL, JOBS_CHANNEL)
# How often the listener checks that its connection is alive, and that it is asked to stop.
PING_SECONDS = 15.0
STOP_CHECK_SECONDS = 0.5

Subscriber = Callable[[str | None], None]  # payload, or None for "forget everything"


class ChangeFeed:
    def __init__(self) -> None:
        self._subscribers: dict[str, list[Subscriber]] = {}
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    def subscribe(self, channel: str, callback: Subscriber) -> None:
        with self._lock:
            self._subscribers.setdefault(channel, []).append(callback)

    def live(self, using: str = "default") -> bool:
        """True when a cache may serve: the listener is connected and no transaction is open."""
        if not settings.CHANGE_FEED:
            return False
        if connections[using].in_atomic_block:
            return False
        self._ensure_started()
        return self._connected.is_set()

    def wait_until_live(self, timeout: float = 10.0) -> bool:
        self._ensure_started()
        return self._connected.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listener (a test database cannot be dropped while it is connected)."""
        thread = self._thread
        if thread is None or self._pid != os.getpid():
            return
        self._stopping.set()
        thread.join(timeout)
        self._thread = None
        self._stopping.clear()

    def publish_locally(self, channel: str, payload: str | None) -> None:
        """Deliver as if Postgres had: for a process that must forget before its commit is announced."""
        for callback in list(self._subscribers.get(channel, ())):
            callback(payload)

    def _ensure_started(self) -> None:
        if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
                return
            # A forked child (gunicorn, Celery prefork) inherits no threads: it starts its own.
            self._connected.clear()
            self._stopping.clear()
            self._forget_everything()
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="change-feed", daemon=True)
            self._thread.start()

    def _forget_everything(self) -> None:
        for channel in list(self._subscribers):
            self.publish_locally(channel, None)

    def _connection_params(self) -> dict:
        params = connections["default"].get_connection_params()
        for django_only in ("cursor_factory", "context", "prepare_threshold"):
            params.pop(django_only, None)
        return {**params, "autocommit": True, "application_name": "dam-change-feed"}

    def _run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                with psycopg.connect(**self._connection_params()) as connection:
                    for channel in CHANNELS:
                        connection.execute(f'LISTEN "{channel}"')
                    # Anything cached before this point may predate a change we never heard of.
                    self._forget_everything()
                    self._connected.set()
                    backoff = 0.5
                    self._listen(connection)
            except Exception:  # the listener must outlive any failure
                logger.warning("change feed disconnected; caches are off until it reconnects", exc_info=True)
            finally:
                self._connected.clear()
                self._forget_everything()
            self._stopping.wait(backoff)
            backoff = min(backoff * 2, 30.0)

    def _listen(self, connection: psycopg.Connection) -> None:
        pinged = time.monotonic()
        while not self._stopping.is_set():
            for notification in connection.notifies(timeout=STOP_CHECK_SECONDS):
                self.publish_locally(notification.channel, notification.payload or None)
            if time.monotonic() - pinged >= PING_SECONDS:
                connection.execute("SELECT 1")  # a silently dead connection raises here
                pinged = time.monotonic()


change_feed = ChangeFeed()
