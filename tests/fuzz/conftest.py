"""Prints the API fuzzer's figures (operations, requests, failures, time) after the run."""

from __future__ import annotations


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    from tests.support.fuzz import REPORT

    if REPORT:
        terminalreporter.write_sep("-", "API fuzz")
        for line in REPORT:
            terminalreporter.write_line(line)
