"""The as-of date of a nightly run: the last local date that has fully ended, per district.

A run covers the data interval [D 08:00 UTC, D+1 08:00 UTC). At 08:00 UTC local day D is over
on the mainland (00:00-03:00 of D+1) but not in Pacific/Honolulu (22:00 of D, UTC-10) nor in
America/Anchorage in winter (23:00 of D, UTC-9). A local date X has fully ended by the
interval's end E when X+1 has begun, i.e. X <= local_date(E) - 1, so each district's as-of is
local_date(E) - 1 in its own zone. This holds across DST changes: on the night Alaska falls
back the as-of stays where it was, on the night it springs forward it advances two days.

The run reports one as-of for the whole deployment, the earliest district's: peer benchmarks
and year-over-year spans compare districts over the same periods, and no district is shown a
day that has not ended where it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

ONE_DAY = dt.timedelta(days=1)


def school_year_of(day: dt.date) -> int:
    """The school year of a date, named by its end year: 1 July starts the next one."""
    return day.year + 1 if day.month >= 7 else day.year


def district_as_of(interval_end: dt.datetime, timezone: str) -> dt.date:
    """The last date, local to `timezone`, that has fully ended by `interval_end`."""
    if interval_end.tzinfo is None:
        raise ValueError("interval_end must be timezone-aware")
    return interval_end.astimezone(ZoneInfo(timezone)).date() - ONE_DAY


def as_of_by_district(interval_end: dt.datetime, districts: Iterable) -> dict[str, dt.date]:
    """District id -> its as-of, for districts with `district_id` and `timezone` (config)."""
    return {d.district_id: district_as_of(interval_end, d.timezone) for d in districts}


def run_as_of(interval_end: dt.datetime, districts: Iterable) -> dt.date:
    """The deployment's as-of: the earliest district's (UTC when there are no districts)."""
    dates = as_of_by_district(interval_end, districts).values()
    return min(dates, default=district_as_of(interval_end, "UTC"))
