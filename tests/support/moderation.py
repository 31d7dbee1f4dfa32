"""Reading what the Foundry emulator's Content Safety endpoints were asked."""

from __future__ import annotations


def content_safety_calls(emulator) -> dict[str, int]:
    return emulator.stats()["content_safety"]["calls"]
