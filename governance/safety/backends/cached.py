"""A Redis cache of text moderation answers around a remote backend (`MODERATION_CACHE_SECONDS`).

Why: the Generate page plans a request on every pause in typing (`POST /api/v1/jobs/plan`), and every plan
moderates the same compiled prompt and locale copies over HTTP again; under 32 clients the plan answered at a
p50 of 1.0 s. The analysis of one text under one safety configuration is deterministic, so it is kept.

- What is kept is the backend's *analysis* (category severities, the provider's blocklist hits, the prompt
  shield's attack flags), never the verdict: the tenant's thresholds are applied afresh on every call.
- The key holds the backend (name and endpoint), the tenant, the safety configuration (version, preset and
  blocklist fingerprint: a changed configuration is a fresh call, and a re-created version 1 with another list
  cannot meet the old answers) and a SHA-256 of the exact text. The text is hashed as received, not
  normalised: two texts the provider might judge differently never share an answer (the platform's own
  matcher, which sees through Unicode tricks, runs on every call outside this cache).
- Nothing is kept when the call fails: an error or unavailability propagates before anything is stored.
- Redis trouble never fails a check: the cache is skipped and the backend called.
- Images are not cached (each output is new bytes).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from functools import cache
from typing import Any

import redis
from django.conf import settings

from governance.safety.backends.base import ImageAnalysis, ModerationBackend, ShieldAnalysis, TextAnalysis
from governance.safety.policy import SafetyPolicy
from governance.safety.verdicts import BlocklistHit

log = logging.getLogger(__name__)

# Bumped when the cached shape or the meaning of an analysis changes: old entries are then never read.
FORMAT = 1


@cache
def _client(redis_url: str) -> redis.Redis:
    # One pool per URL per process; short timeouts: a slow Redis must not cost more than the call it saves.
    return redis.Redis.from_url(redis_url, socket_connect_timeout=0.5, socket_timeout=0.5)


def _digest(*parts: str) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        encoded = part.encode("utf-8", "surrogatepass")
        hasher.update(len(encoded).to_bytes(8, "big"))  # length-prefixed: ("ab", "c") != ("a", "bc")
        hasher.update(encoded)
    return hasher.hexdigest()


def with_answer_cache(backend: ModerationBackend, *, policy: SafetyPolicy) -> ModerationBackend:
    """`backend` behind the cache for checks under `policy` (one tenant's), or as it is when the cache is off.

    The offline `local` backend answers in microseconds: a Redis round trip would cost more than it saves.
    """
    ttl = settings.MODERATION_CACHE_SECONDS
    if ttl <= 0 or backend.name == "local":
        return backend
    return CachedModerationBackend(
        backend,
        policy=policy,
        endpoint=settings.CONTENT_SAFETY_ENDPOINT,
        redis_url=settings.REDIS_URL,
        key_prefix=settings.MODERATION_CACHE_KEY_PREFIX,
        ttl_seconds=ttl,
    )


class CachedModerationBackend:
    """`ModerationBackend` answering repeated text checks under one tenant's policy from Redis.

    Bound to the policy because the prompt shield's call carries no policy, and its answers must stay within
    the tenant too.
    """

    def __init__(
        self,
        backend: ModerationBackend,
        *,
        policy: SafetyPolicy,
        endpoint: str,
        redis_url: str,
        key_prefix: str,
        ttl_seconds: int,
    ) -> None:
        self.backend = backend
        self.policy = policy
        self.name = backend.name  # verdicts name the classifier that judged, cached or not
        self.endpoint = endpoint
        self.redis_url = redis_url
        self.key_prefix = key_prefix
        self.ttl_seconds = ttl_seconds

    def close(self) -> None:
        self.backend.close()

    def _key(self, kind: str, policy: SafetyPolicy, *texts: str) -> str:
        config = f"t{policy.tenant_id or 0}:v{policy.version}:{policy.preset}:{policy.blocklist_fingerprint}"
        return f"{self.key_prefix}:{FORMAT}:{kind}:{config}:{_digest(self.name, self.endpoint, *texts)}"

    def _get(self, key: str) -> Any:
        try:
            raw = _client(self.redis_url).get(key)
        except redis.RedisError as exc:
            log.warning("moderation cache unavailable, calling the backend: %s", exc)
            return None
        return json.loads(raw) if raw else None

    def _set(self, key: str, value: dict[str, Any]) -> None:
        try:
            _client(self.redis_url).set(key, json.dumps(value), ex=self.ttl_seconds)
        except redis.RedisError as exc:
            log.warning("moderation cache unavailable, answer not kept: %s", exc)

    # --- text -----------------------------------------------------------------------------
    def analyze_text(self, text: str, *, policy: SafetyPolicy) -> TextAnalysis:
        started = time.perf_counter()
        key = self._key("text", policy, text)
        kept = self._get(key)
        if kept is not None:
            return TextAnalysis(
                severities=kept["severities"],
                blocklist_hits=tuple(BlocklistHit(**hit) for hit in kept["blocklist_hits"]),
                latency_ms=int((time.perf_counter() - started) * 1000),
            )
        analysis = self.backend.analyze_text(text, policy=policy)
        self._set(
            key,
            {"severities": analysis.severities, "blocklist_hits": [hit.to_dict() for hit in analysis.blocklist_hits]},
        )
        return analysis

    # --- prompt shield ------------------------------------------------------------------------
    def shield_prompt(self, user_prompt: str, documents: Sequence[str]) -> ShieldAnalysis:
        started = time.perf_counter()
        key = self._key("shield", self.policy, user_prompt, *documents)
        kept = self._get(key)
        if kept is not None:
            return ShieldAnalysis(
                user_prompt_attack=kept["user_prompt_attack"],
                document_attacks=tuple(kept["document_attacks"]),
                latency_ms=int((time.perf_counter() - started) * 1000),
            )
        analysis = self.backend.shield_prompt(user_prompt, documents)
        self._set(
            key,
            {"user_prompt_attack": analysis.user_prompt_attack, "document_attacks": list(analysis.document_attacks)},
        )
        return analysis

    # --- images (never cached) -------------------------------------------------------------
    def analyze_image(self, data: bytes) -> ImageAnalysis:
        return self.backend.analyze_image(data)
