"""The API fuzzer's figures: filled by tests/fuzz/test_api_fuzz.py, printed by tests/fuzz/conftest.py."""

from __future__ import annotations

REPORT: list[str] = []
