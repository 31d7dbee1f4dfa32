"""The sliding 60 s RPM/TPM window, on a controlled clock."""

from __future__ import annotations

from generation.emulator.quota import QuotaWindow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rpm_admits_up_to_the_limit_then_opens_as_the_window_slides():
    clock = Clock()
    window = QuotaWindow(clock)
    assert window.admit(tokens=1, rpm=2, tpm=0).admitted
    clock.now += 20
    assert window.admit(tokens=1, rpm=2, tpm=0).admitted
    refused = window.admit(tokens=1, rpm=2, tpm=0)
    assert not refused.admitted
    assert refused.retry_after_ms == 40_000  # the first call leaves the window 60 s after it came
    clock.now += 40
    assert window.admit(tokens=1, rpm=2, tpm=0).admitted


def test_tpm_waits_until_enough_tokens_leave_the_window():
    clock = Clock()
    window = QuotaWindow(clock)
    assert window.admit(tokens=600, rpm=0, tpm=1000).admitted
    clock.now += 10
    assert window.admit(tokens=300, rpm=0, tpm=1000).admitted
    refused = window.admit(tokens=500, rpm=0, tpm=1000)
    assert not refused.admitted
    assert refused.retry_after_ms == 50_000  # once the 600 leave, 300 + 500 fit
    assert window.admit(tokens=100, rpm=0, tpm=1000).admitted  # a smaller call still fits now


def test_refused_calls_are_not_charged_and_reset_clears():
    clock = Clock()
    window = QuotaWindow(clock)
    window.admit(tokens=1, rpm=1, tpm=0)
    for _ in range(5):
        assert not window.admit(tokens=1, rpm=1, tpm=0).admitted
    clock.now += 60
    assert window.admit(tokens=1, rpm=1, tpm=0).admitted
    window.reset()
    assert window.admit(tokens=1, rpm=1, tpm=0).admitted


def test_zero_means_unlimited():
    window = QuotaWindow(Clock())
    assert all(window.admit(tokens=10**9, rpm=0, tpm=0).admitted for _ in range(1000))
