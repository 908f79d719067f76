"""A district's service clock for the generator: when is the office open, and when does a
delay of so many business minutes end.

Intervals are built per local day in wall-clock time and converted to UTC (docs/metrics.md), then
kept as sorted epoch seconds so that advancing a clock is a bisect, not a walk over days.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from zoneinfo import ZoneInfo

from schoolcx.config import WEEKDAYS, District
from schoolcx.refsync import closures


class ServiceClock:
    def __init__(self, district: District, first: dt.date, last: dt.date):
        cal = district.calendar
        self.zone = ZoneInfo(district.timezone)
        weekdays = {WEEKDAYS[w] for w in cal.weekdays}
        closed = closures(district, first, last)
        self.service_days: set[dt.date] = set()
        self.starts: list[float] = []
        self.ends: list[float] = []
        day = first
        while day <= last:
            if day.isoweekday() in weekdays and day not in closed:
                self.service_days.add(day)
                self.starts.append(self._epoch(day, cal.open))
                self.ends.append(self._epoch(day, cal.close))
            day += dt.timedelta(days=1)

    def _epoch(self, day: dt.date, at: dt.time) -> float:
        return dt.datetime.combine(day, at, tzinfo=self.zone).timestamp()

    def local(self, day: dt.date, seconds_after_midnight: float) -> float:
        """Epoch seconds of a local wall-clock moment (seconds may run past midnight)."""
        midnight = dt.datetime.combine(day, dt.time(0), tzinfo=self.zone)
        return (midnight + dt.timedelta(seconds=seconds_after_midnight)).timestamp()

    def is_open(self, t: float) -> bool:
        i = bisect_right(self.starts, t) - 1
        return i >= 0 and t < self.ends[i]

    def minutes_between(self, t0: float, t1: float) -> float:
        """Business minutes of [t0, t1)."""
        total = 0.0
        i = bisect_right(self.ends, t0)
        while i < len(self.starts) and self.starts[i] < t1:
            total += max(0.0, min(self.ends[i], t1) - max(self.starts[i], t0))
            i += 1
        return total / 60

    def add(self, t: float, business_minutes: float) -> float:
        """The instant `business_minutes` of service time after t; inf past the built range."""
        left = business_minutes * 60
        i = bisect_right(self.ends, t)  # first interval that has not closed by t
        while i < len(self.starts):
            begin = max(self.starts[i], t)
            room = self.ends[i] - begin
            if left <= room:
                return begin + left
            left -= room
            i += 1
        return float("inf")
