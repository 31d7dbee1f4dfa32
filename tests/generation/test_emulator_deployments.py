"""The deployment pool's own logic on a controlled clock: schedules, bursts, merges (the HTTP behaviour is in
test_emulator_pool.py)."""

from __future__ import annotations

import pytest

from generation.emulator.config import ConfigError, EmulatorConfig
from generation.emulator.deployments import DeploymentPool, parse_deployments


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def _pool(clock: Clock, deployments: dict) -> DeploymentPool:
    pool = DeploymentPool(clock)
    pool.replace(parse_deployments(deployments))
    return pool


def test_schedule_steps_apply_in_order_of_emulated_time_scaled_by_time_scale():
    clock = Clock()
    pool = _pool(
        clock,
        {
            "east": {
                "schedule": [
                    {"after_seconds": 80, "set": {"down": False, "slow_factor": 2}},
                    {"after_seconds": 40, "set": {"down": "503"}},
                ]
            }
        },
    )
    time_scale = 0.1  # 40 emulated seconds are 4 real ones
    clock.now += 3.9
    assert pool.get("east", time_scale).config.down is None
    clock.now += 0.1
    assert pool.get("east", time_scale).config.down == "503"
    # A gap past both steps applies both, in order: the later one wins.
    clock.now += 100
    runtime = pool.get("east", time_scale)
    assert (runtime.config.down, runtime.config.slow_factor, runtime.schedule_done) == (None, 2.0, 2)
    assert len(runtime.config.schedule) == 2  # the plan itself is kept, for the config view


def test_a_burst_at_call_refuses_the_nth_call_and_the_k_minus_one_after_it():
    pool = _pool(Clock(), {"east": {"throttle_burst": {"at_call": 3, "count": 2}}})
    runtime = pool.get("east", 1.0)
    assert [runtime.throttled(0, 1.0) for _ in range(6)] == [False, False, True, True, False, False]


def test_a_burst_at_seconds_counts_from_when_it_was_posted():
    clock = Clock()
    pool = _pool(clock, {"east": {}})
    clock.now += 50
    patch = {"east": {"throttle_burst": {"at_seconds": 10, "count": 1}}}
    pool.apply_patch(pool.validate_patch(patch), patch)
    runtime = pool.get("east", 0.5)
    assert not runtime.throttled(clock.now + 4.9, 0.5)  # 9.8 emulated seconds after the post
    assert runtime.throttled(clock.now + 5.0, 0.5)
    assert not runtime.throttled(clock.now + 6.0, 0.5)  # one call only


def test_a_patch_merges_into_one_deployment_adds_and_removes():
    clock = Clock()
    pool = _pool(clock, {"east": {"rpm": 6, "region": "eastus"}, "west": {"rpm": 30}})
    pool.get("east", 1.0).quota.admit(tokens=1, rpm=6, tpm=0)
    patch = {"east": {"down": "503"}, "west": None, "north": {"region": "norwayeast"}}
    pool.apply_patch(pool.validate_patch(patch), patch)
    east = pool.get("east", 1.0)
    assert (east.config.down, east.config.rpm, east.config.region) == ("503", 6, "eastus")
    assert east.quota.remaining(rpm=6, tpm=0) == (5, None)  # the window survives a config change
    assert pool.get("west", 1.0) is None
    assert pool.get("north", 1.0).config.region == "norwayeast"
    pool.apply_patch(pool.validate_patch(None), None)
    assert not pool


def test_an_invalid_patch_is_refused_before_anything_changes():
    pool = _pool(Clock(), {"east": {"rpm": 6}})
    with pytest.raises(ConfigError, match=r"deployments\.east\.schedule\[0\]\.set: must be an object"):
        pool.validate_patch({"east": {"schedule": [{"after_seconds": 1, "set": {"schedule": []}}]}})
    with pytest.raises(ConfigError, match=r"deployments\.east\.latency"):
        pool.validate_patch({"east": {"latency": "slow"}})
    assert pool.get("east", 1.0).config.rpm == 6


def test_the_config_keeps_the_start_pool_and_accepts_the_wrapped_form():
    config = EmulatorConfig(deployments={"deployments": {"east": {"latency": "500-1500", "data_zone": "EU"}}})
    [(name, east)] = config.deployments
    assert (name, east.latency, east.data_zone) == ("east", (500, 1500), "eu")
    assert config.to_dict()["deployments"]["east"]["latency"] == [500, 1500]
    with pytest.raises(ConfigError, match="time_scale"):
        EmulatorConfig(time_scale=0)
