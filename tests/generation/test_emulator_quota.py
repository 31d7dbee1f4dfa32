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


def test_a_call_counts_from_its_arrival_even_when_admitted_later():
    # A busy emulator may read and price a request seconds after it came in; the window counts the arrival.
    clock = Clock()
    window = QuotaWindow(clock)
    arrived = window.now()
    clock.now += 2  # reading the body and counting its tokens took a while
    assert window.admit(tokens=1, rpm=1, tpm=0, arrived_at=arrived).admitted
    clock.now += 58.5  # 60.5 s after the arrival, 58.5 s after the admission
    assert window.admit(tokens=1, rpm=1, tpm=0).admitted


def test_calls_admitted_out_of_arrival_order_leave_the_window_in_arrival_order():
    clock = Clock()
    window = QuotaWindow(clock)
    late_reader = window.now()
    clock.now += 1
    assert window.admit(tokens=1, rpm=2, tpm=0).admitted  # arrived at 1001
    assert window.admit(tokens=1, rpm=2, tpm=0, arrived_at=late_reader).admitted  # arrived at 1000
    refused = window.admit(tokens=1, rpm=2, tpm=0)
    assert refused.retry_after_ms == 59_000  # the one that arrived first leaves first, at 1060
