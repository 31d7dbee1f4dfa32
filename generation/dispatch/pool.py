"""The pool dispatcher: which deployment of a pool a call goes to, and when, shared by every worker through Redis.

Generalises the single-deployment limiter it replaced (one sliding log per member, same window semantics: Redis
clock, grants with their tokens, `restamp` when the call really leaves) to several members with a queue in front
of them:

- a waiting call is a *ticket* in a Redis queue (interactive lane before bulk, weighted fair queuing by tenant
  inside a lane); one Lua script serves the queue in order, each ticket taking a member it may use (residency)
  with room, by priority then a weighted choice by weight x headroom;
- waiters do not poll: each blocks on its own Redis list (BLPOP) and is pushed its grant by whichever script
  granted it; one waiting ticket, the *timer*, blocks only until the next slot frees and then runs the queue;
- a ticket lives while its process renews its lease (one heartbeat command per process, whatever the number of
  waiting threads), so a worker killed with SIGKILL leaves nothing behind for longer than one lease: its waiting
  tickets are dropped, and grants it never read are taken back;
- outcomes drive a breaker per member and its learned rate (429s, x-ratelimit headers), and feed the stats.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from functools import lru_cache

import redis

from generation.dispatch import health_scripts, queue_scripts
from generation.dispatch.values import (
    BreakerChange,
    Grant,
    Lane,
    Member,
    MemberState,
    NoAllowedMember,
    Outcome,
    RateLimitTimeout,
)

logger = logging.getLogger(__name__)

_MICROSECONDS = 1_000_000
_LONGEST_BLOCK = 30.0  # seconds: a BLPOP longer than this is split (a waiter re-blocks: one command per 30 s)
_BLPOP_LATENESS = 0.11  # seconds: how late Redis may end a BLPOP timeout (one cron tick at the default hz 10)


class PoolDispatcher:
    """Dispatches calls over the members of one pool. Thread-safe and fork-safe; cheap to keep one per pool."""

    def __init__(
        self,
        *,
        redis_url: str,
        pool_key: str,
        members: Sequence[Member],
        window_seconds: float = 60.0,
        key_prefix: str = "dam:dispatch",
        breaker_failures: int = 3,
        breaker_server_errors: int = 5,
        breaker_burst_seconds: float = 30.0,
        breaker_cooldown_seconds: float = 30.0,
        ticket_lease_seconds: float = 5.0,
        pacing: bool = True,
    ) -> None:
        keys = [m.key for m in members]
        if not members or len(set(keys)) != len(keys):
            raise ValueError(f"a pool needs members with unique keys (got {keys})")
        for m in members:
            if m.rpm < 1 or m.tpm < 0 or m.weight < 1 or not m.key or "," in m.key or ":" in m.key:
                raise ValueError(f"invalid member {m!r}: rpm >= 1, tpm >= 0, weight >= 1, key without ',' or ':'")
        if window_seconds <= 0 or ticket_lease_seconds <= 0 or breaker_failures < 1 or breaker_server_errors < 1:
            raise ValueError("window_seconds and ticket_lease_seconds must be positive, breaker thresholds >= 1")
        self.pool_key = pool_key
        self.members = {m.key: m for m in members}
        self.window_seconds = window_seconds
        self.lease_seconds = ticket_lease_seconds
        self._prefix = f"{key_prefix}:{pool_key}"
        self._member_prefix = f"{key_prefix}:m"
        self._breaker = (breaker_failures, breaker_server_errors, round(breaker_burst_seconds * _MICROSECONDS))
        self._config = json.dumps(
            {
                "w": max(1, round(window_seconds * _MICROSECONDS)),
                "l": max(1, round(ticket_lease_seconds * _MICROSECONDS)),
                "cd": max(0, round(breaker_cooldown_seconds * _MICROSECONDS)),
                "mp": self._member_prefix,
                "pc": 1 if pacing else 0,
                "m": [
                    {"k": m.key, "r": m.rpm, "t": m.tpm, "p": m.priority, "wt": m.weight} for m in members if m.enabled
                ],
            }
        )
        self._redis = _client(redis_url)
        self._blocking = _client(redis_url, blocking=True)
        self._scripts = {
            name: self._redis.register_script(source)
            for name, source in (
                ("acquire", queue_scripts.ACQUIRE),
                ("leave", queue_scripts.LEAVE),
                ("heartbeat", queue_scripts.HEARTBEAT),
                ("outcome", health_scripts.RECORD_OUTCOME),
                ("release", health_scripts.RELEASE),
                ("restamp", health_scripts.RESTAMP),
                ("snapshot", health_scripts.SNAPSHOT),
            )
        }
        # Renewed often enough that a lease survives a missed beat.
        self._heartbeat = _Heartbeat(self._beat, interval=ticket_lease_seconds / 4)

    # -- acquiring -------------------------------------------------------------------------------------------

    def acquire(
        self,
        *,
        ticket: str,
        tenant: str,
        lane: Lane,
        tokens: int,
        timeout: float,
        tenant_weight: float = 1.0,
        max_share: float | None = None,
        allowed: Collection[str] | None = None,
        exclude: Collection[str] = (),
    ) -> Grant:
        """Block until this call may go to one member; the grant is recorded in that member's window.

        Raises RateLimitTimeout (with retry_after) when `timeout` passes, NoAllowedMember at once when
        `allowed` - `exclude` holds no enabled member. Never grants a member outside `allowed` - `exclude`.
        """
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
            raise ValueError(f"tokens must be a non-negative integer (got {tokens!r})")
        if timeout < 0 or tenant_weight <= 0 or (max_share is not None and not 0 < max_share <= 1):
            raise ValueError("timeout >= 0, tenant_weight > 0 and 0 < max_share <= 1 are required")
        if not ticket or "|" in ticket or not tenant:
            raise ValueError(f"ticket (without '|') and tenant are required (got {ticket!r}, {tenant!r})")
        usable = [
            m.key
            for m in self.members.values()
            if m.enabled and (allowed is None or m.key in allowed) and m.key not in exclude
        ]
        if not usable:
            raise NoAllowedMember(
                f"pool {self.pool_key!r} has no enabled member in allowed={sorted(allowed or [])} "
                f"minus exclude={sorted(exclude)}"
            )
        started = time.monotonic()
        deadline = started + timeout
        args = [ticket, tenant, Lane(lane).value, tokens, ",".join(usable), "" if max_share is None else max_share]
        args.append(tenant_weight)
        wake_key = f"{self._prefix}:w:{ticket}"
        self._heartbeat.add(ticket)
        try:
            granted, first, second = self._run("acquire", *args)
            while not granted:
                timer, retry_after = int(first), int(second) / _MICROSECONDS
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return self._give_up(ticket, started, timeout, retry_after)
                wait = remaining if timer < 0 else min(remaining, timer / _MICROSECONDS)
                popped = self._block(wake_key, wait, precise=timer >= 0)
                message = popped[1].decode() if popped else None
                if message and message.startswith("g|"):
                    _, member, probe = message.split("|")
                    return Grant(member, ticket, time.monotonic() - started, probe == "1")
                if message and message.startswith("k|"):
                    # We are the timer now: block until the next slot frees, then run the queue.
                    first, second = int(message[2:]), retry_after * _MICROSECONDS
                    continue
                if popped is None and time.monotonic() >= deadline:
                    return self._give_up(ticket, started, timeout, retry_after)
                granted, first, second = self._run("acquire", *args)
            return Grant(first.decode(), ticket, time.monotonic() - started, int(second) == 1)
        except RateLimitTimeout:
            raise  # _give_up has left the queue already
        except BaseException:
            # Cancelled (or Redis failed) while waiting: leave the queue; a grant that arrived meanwhile is
            # given back rather than left counted for a call that will not be sent.
            self._leave_quietly(ticket)
            raise
        finally:
            self._heartbeat.discard(ticket)

    def _block(self, wake_key: str, wait: float, *, precise: bool):
        """BLPOP on the ticket's wake-up list. Redis checks blocking timeouts on its event loop's cron (hz 10:
        up to 100 ms late), so the timer blocks until just before its moment and sleeps the rest here; a grant
        pushed meanwhile stays in the list and the next acquire script reads it first."""
        target = time.monotonic() + wait
        lateness = _BLPOP_LATENESS if precise else 0.0
        if wait > lateness:
            block = min(_LONGEST_BLOCK, max(0.001, wait - lateness))
            popped = self._blocking.blpop([wake_key], timeout=block)
            if popped or not precise or block == _LONGEST_BLOCK:
                return popped
        time.sleep(max(0.0, target - time.monotonic()))
        return None

    def _give_up(self, ticket: str, started: float, timeout: float, retry_after: float) -> Grant:
        granted, member, probe = self._run("leave", ticket)
        if granted:
            return Grant(member.decode(), ticket, time.monotonic() - started, int(probe) == 1)
        raise RateLimitTimeout(
            f"pool {self.pool_key!r}: no member granted ticket {ticket!r} within {timeout:g}s "
            f"(next slot for it in about {retry_after:.3f}s, behind the tickets ahead of it)",
            retry_after=retry_after,
        )

    def _leave_quietly(self, ticket: str) -> None:
        try:
            granted, member, probe = self._run("leave", ticket)
            if granted:
                grant = Grant(member.decode(), ticket, 0.0, int(probe) == 1)
                self._run("release", grant.member, ticket, self._entry_tokens(grant), int(probe))
        except redis.RedisError:
            logger.warning("pool %s: could not withdraw ticket %s (its lease will)", self.pool_key, ticket)

    # -- after the grant -------------------------------------------------------------------------------------

    def restamp(self, *, grant: Grant, tokens: int) -> float | None:
        """The granted call leaves now: its place in the member's window starts now (the provider counts a call
        from its arrival). Returns the new stamp (unix seconds, Redis clock), or None when the entry already left
        the window (the grant is spent: acquire again), as the single-deployment limiter did."""
        stamp = int(self._run("restamp", grant.member, grant.ticket, self._admitted(grant.member, tokens)))
        return stamp / _MICROSECONDS if stamp else None

    def release(self, *, grant: Grant, tokens: int) -> None:
        """The granted call was NOT sent (lease lost, cancelled): its window entries are given back, and the next
        waiting ticket may take the slot at once."""
        self._run("release", grant.member, grant.ticket, self._admitted(grant.member, tokens), 1 if grant.probe else 0)

    def record_outcome(
        self,
        *,
        member: str,
        outcome: Outcome,
        latency_seconds: float | None = None,
        headers: Mapping[str, str] | None = None,
        probe: bool = False,
    ) -> BreakerChange | None:
        """Feed a granted call's outcome to the member's breaker, learned rate and stats. Returns the breaker's
        transition when this outcome caused one (decided in the script: exactly one caller sees each)."""
        configured = self.members[member]
        retry_after, limit, remaining = _rate_headers(headers or {})
        changed, old, new, reason = self._run(
            "outcome",
            member,
            Outcome(outcome).value,
            -1 if latency_seconds is None else max(0, round(latency_seconds * 1000)),
            1 if probe else 0,
            -1 if retry_after is None else round(retry_after * _MICROSECONDS),
            -1 if limit is None else limit,
            -1 if remaining is None else remaining,
            uuid.uuid4().hex,
            configured.rpm,
            *self._breaker,
        )
        if not changed:
            return None
        return BreakerChange(member=member, old=old.decode(), new=new.decode(), reason=reason.decode())

    # -- admin and tests -------------------------------------------------------------------------------------

    def snapshot(self) -> list[MemberState]:
        """Every member now (disabled ones too), in the pool's order: for the admin page."""
        args: list[str | int] = []
        for m in self.members.values():
            args += [m.key, m.rpm]
        states = []
        for m, row in zip(self.members.values(), self._run("snapshot", *args), strict=True):
            eff, count, breaker, fails, opened, calls, throttled, latencies = row
            breaker = breaker.decode()
            ms = sorted(int(x) for x in latencies)
            states.append(
                MemberState(
                    key=m.key,
                    rpm=m.rpm,
                    effective_rpm=int(eff),
                    requests_in_window=int(count),
                    headroom=0 if breaker != "closed" or not m.enabled else max(0, int(eff) - int(count)),
                    breaker=breaker,
                    consecutive_failures=int(fails),
                    opened_at=int(opened) / _MICROSECONDS if breaker != "closed" and int(opened) else None,
                    calls_last_minute=int(calls),
                    throttled_last_minute=int(throttled),
                    latency_p50_ms=_percentile(ms, 0.50),
                    latency_p95_ms=_percentile(ms, 0.95),
                )
            )
        return states

    def reset(self) -> None:
        """Drop this pool's Redis state and its members' (tests and benchmarks)."""
        patterns = [f"{self._prefix}:*"] + [f"{self._member_prefix}:{key}:*" for key in self.members]
        for pattern in patterns:
            for batch in _batched(self._redis.scan_iter(match=pattern, count=500), 500):
                self._redis.delete(*batch)

    # -- internals -------------------------------------------------------------------------------------------

    def _run(self, name: str, *args):
        return self._scripts[name](args=[self._prefix, self._config, random.random(), *args])

    def _beat(self, tickets: list[str]) -> None:
        self._run("heartbeat", *tickets)

    def _admitted(self, member: str, tokens: int) -> int:
        tpm = self.members[member].tpm
        return min(tokens, tpm) if tpm else tokens

    def _entry_tokens(self, grant: Grant) -> int:
        # A grant met while withdrawing a cancelled ticket: its entry is named by the tokens admitted.
        prefix = f"{grant.ticket}:".encode()
        for entry in self._redis.zrange(f"{self._member_prefix}:{grant.member}:log", 0, -1):
            if entry.startswith(prefix):
                return int(entry[len(prefix) :])
        return 0


class _Heartbeat:
    """Renews the leases of this process's waiting tickets, all in one command, while there are any: a killed
    process stops renewing, and its tickets end with their lease."""

    def __init__(self, beat: Callable[[list[str]], None], *, interval: float) -> None:
        self._beat = beat
        self._interval = interval
        self._tickets: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def add(self, ticket: str) -> None:
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's thread does not exist here
                self._pid, self._thread, self._tickets = os.getpid(), None, set()
            self._tickets.add(ticket)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="dispatch-heartbeat", daemon=True)
                self._thread.start()

    def discard(self, ticket: str) -> None:
        with self._lock:
            self._tickets.discard(ticket)

    def _run(self) -> None:
        while True:
            time.sleep(self._interval)
            with self._lock:
                tickets = sorted(self._tickets)
                if not tickets:
                    self._thread = None
                    return
            try:
                self._beat(tickets)
            except redis.RedisError:
                logger.warning("dispatch heartbeat failed; retrying", exc_info=True)


def _rate_headers(headers: Mapping[str, str]) -> tuple[float | None, int | None, int | None]:
    """retry-after (seconds), x-ratelimit-limit-requests and x-ratelimit-remaining-requests, case-insensitively."""
    lower = {k.lower(): v for k, v in headers.items()}
    retry_after = None
    try:
        if "retry-after-ms" in lower:
            retry_after = max(0.0, float(lower["retry-after-ms"]) / 1000)
        elif "retry-after" in lower:
            retry_after = max(0.0, float(lower["retry-after"]))
    except ValueError:
        retry_after = None  # an HTTP date: the default hold applies

    def integer(name: str) -> int | None:
        try:
            return max(0, int(float(lower[name]))) if name in lower else None
        except ValueError:
            return None

    return retry_after, integer("x-ratelimit-limit-requests"), integer("x-ratelimit-remaining-requests")


def _percentile(sorted_values: list[int], q: float) -> int | None:
    if not sorted_values:
        return None
    # Nearest rank: the smallest value with at least q of the values at or below it.
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def _batched(items, size: int):
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@lru_cache(maxsize=8)
def _client(redis_url: str, *, blocking: bool = False) -> redis.Redis:
    # One connection pool per URL per process. redis-py 8 reads every reply within socket_timeout (5 s by default),
    # BLPOP's too: the blocking client waits as long as the BLPOP's own timeout (bounded by _LONGEST_BLOCK, and
    # keepalive notices a vanished server), the scripts' client keeps the default.
    if blocking:
        return redis.Redis.from_url(redis_url, socket_timeout=None, socket_keepalive=True)
    return redis.Redis.from_url(redis_url)
