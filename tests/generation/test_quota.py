"""A job's quota slot as its call leaves (generation.quota), against the real Redis: the slot starts when the call
leaves, and a grant that expired before that is never sent on."""

from __future__ import annotations

import time
import uuid

import pytest

from generation.foundry.config import DeploymentConfig, Secret
from generation.quota import _limiter, acquire_quota, quota_call_leaves

# Clock reads around a Redis round trip on the same machine.
TOLERANCE = 0.05


@pytest.fixture
def config(settings) -> DeploymentConfig:
    settings.FOUNDRY_QUOTA_WINDOW_SECONDS = 1
    settings.FOUNDRY_QUOTA_WAIT_SECONDS = 5
    # A name of its own: limiters are cached per process by deployment name and quota.
    return DeploymentConfig(
        name=f"quota-{uuid.uuid4().hex}", endpoint="http://127.0.0.1:1", deployment="d", api_key=Secret("k"), rpm=1
    )


def test_a_call_leaving_on_its_grant_starts_its_slot_now(config):
    acquire_quota(config=config, tokens=10, request_id="granted")
    time.sleep(0.3)

    before = time.time()
    stamp = quota_call_leaves(config=config, tokens=10, request_id="granted")

    assert before - TOLERANCE <= stamp <= time.time() + TOLERANCE
    # The slot runs a whole window from the departure, not from the grant 0.3 s earlier.
    time.sleep(0.8)
    assert not _limiter(config.name, config.rpm, config.tpm).try_acquire(tokens=0).granted


def test_a_call_whose_grant_expired_before_it_left_waits_for_a_new_slot(config):
    acquire_quota(config=config, tokens=10, request_id="held")
    time.sleep(1.1)  # every call slot busy for a whole window: the grant left the window unused
    acquire_quota(config=config, tokens=10, request_id="other")  # and another call took the deployment's only slot

    started = time.monotonic()
    stamp = quota_call_leaves(config=config, tokens=10, request_id="held")
    waited = time.monotonic() - started

    assert waited >= 1 - 0.1 - TOLERANCE  # until the other call's window had passed
    assert abs(stamp - time.time()) <= TOLERANCE
    refused = _limiter(config.name, config.rpm, config.tpm).try_acquire(tokens=0)
    assert (refused.granted, refused.requests_in_window) == (False, 1)  # counted once, from its departure
