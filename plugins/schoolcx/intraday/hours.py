"""Whether a district is in its service hours at an instant (the schedule's filter).

The DAG fires every 15 minutes over the UTC hours any district may serve; a cycle runs only
when at least one district is open then (its weekday, hours, closures and federal holidays:
the calendar of docs/metrics.md), so a deployment's districts' own calendars decide.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import holidays

from schoolcx.config import DeploymentConfig, District

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def in_service_hours(district: District, at: dt.datetime, margin_minutes: int = 15) -> bool:
    """Open at `at`, or closed less than `margin_minutes` ago (the cycle after closing time
    catches the day's last answers)."""
    cal = district.calendar
    local = at.astimezone(ZoneInfo(district.timezone))
    day = local.date()
    if WEEKDAYS[day.weekday()] not in cal.weekdays:
        return False
    if cal.federal_holidays and day in holidays.US(years=day.year):
        return False
    for closure in cal.closure_list():
        if closure.start <= day <= (closure.end or closure.start):
            return False
    opens = dt.datetime.combine(day, cal.open, tzinfo=local.tzinfo)
    closes = dt.datetime.combine(day, cal.close, tzinfo=local.tzinfo)
    return opens <= local < closes + dt.timedelta(minutes=margin_minutes)


def open_districts(cfg: DeploymentConfig, at: dt.datetime) -> list[str]:
    return [d.district_id for d in cfg.districts if in_service_hours(d, at)]
