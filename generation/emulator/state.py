"""The running emulator's mutable state: config, stats, quota, the deployment pool and the usage export."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from generation.emulator import errors
from generation.emulator.config import EmulatorConfig
from generation.emulator.deployments import DeploymentPool, DeploymentRuntime
from generation.emulator.quota import QuotaWindow
from generation.emulator.rendering import Renderer
from generation.emulator.stats import EmulatorStats
from generation.emulator.usage_export import UsageLog

_UNSET = object()


class EmulatorState:
    """The running emulator's mutable state; one per app, touched only from the event loop's thread
    (stats and quota also lock, as rendering threads never touch them)."""

    def __init__(self, config: EmulatorConfig, renderer: Renderer) -> None:
        self.start_config = config
        self.renderer = renderer
        self.config = config
        self.stats = EmulatorStats(config.recent_limit)
        self.quota = QuotaWindow()
        self.rng = random.Random(config.seed)
        self._release = asyncio.Event()
        self.pool = DeploymentPool()
        self.pool.replace(config.deployments)
        self.usage = UsageLog(config.usage_limit)

    def configure(self, **changes: Any) -> EmulatorConfig:
        # `deployments` merges into the live pool (one deployment at a time); the config keeps the start pool.
        patch = changes.pop("deployments", _UNSET)
        config = self.config.updated(**changes)
        merged = self.pool.validate_patch(patch) if patch is not _UNSET else None
        self._apply(config)
        if patch is not _UNSET:
            self.pool.apply_patch(merged, patch)
        return config

    def _apply(self, config: EmulatorConfig) -> None:
        if config.seed != self.config.seed:
            self.rng = random.Random(config.seed)
        if config.recent_limit != self.stats.recent_limit:
            self.stats.set_recent_limit(config.recent_limit)
        if config.usage_limit != self.usage.limit:
            self.usage.set_limit(config.usage_limit)
        self.config = config

    def reset(self, *, restore_config: bool) -> None:
        self.stats.reset()
        self.quota.reset()
        self.usage.clear()
        self.release_hangs()
        if restore_config:
            self._apply(self.start_config)
            self.rng = random.Random(self.start_config.seed)
            self.pool.replace(self.start_config.deployments)
        else:
            self.pool.clear_counters()

    def deployment(self, name: str) -> DeploymentRuntime:
        """The pool deployment serving `name`, its due schedule steps applied; Azure's 404 for an unknown name."""
        runtime = self.pool.get(name, self.config.time_scale)
        if runtime is None:
            raise errors.deployment_not_found()
        return runtime

    def release_hangs(self) -> None:
        self._release.set()
        self._release = asyncio.Event()

    @property
    def release(self) -> asyncio.Event:
        return self._release

    def pop_queued_fault(self) -> None:
        if self.config.fault_queue:
            self.config = self.config.updated(fault_queue=self.config.fault_queue[1:])
