"""Calendar days and months in a tenant's time zone: where spend is counted.

A month is [first day 00:00, first day of next month 00:00) local time, so 23:59:59.999999 on
the last day belongs to that month and DST changes move nothing: the zone does the arithmetic.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.utils import timezone


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_day(at: dt.datetime, time_zone: str) -> dt.date:
    if timezone.is_naive(at):
        raise ValueError("spend times must be timezone-aware")
    return at.astimezone(zone(time_zone)).date()


def month_of(at: dt.datetime, time_zone: str) -> dt.date:
    """The first day of the tenant-local month that `at` falls in."""
    return local_day(at, time_zone).replace(day=1)


def next_month(period: dt.date) -> dt.date:
    return dt.date(period.year + period.month // 12, period.month % 12 + 1, 1)


def month_bounds(period: dt.date, time_zone: str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a tenant-local month as aware datetimes."""
    tz = zone(time_zone)
    start = dt.datetime.combine(period.replace(day=1), dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(next_month(period), dt.time.min, tzinfo=tz)
    return start, end


def period_label(period: dt.date) -> str:
    return f"{period:%Y-%m}"
