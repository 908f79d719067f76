"""When an intraday cycle runs: a district's own service hours (no warehouse needed)."""

from __future__ import annotations

import datetime as dt

from schoolcx.intraday.hours import in_service_hours, open_districts
from tests import fixture_dbt_core as fx

CHI = dt.timezone(dt.timedelta(hours=-5))  # CDT
CST = dt.timezone(dt.timedelta(hours=-6))


def _lincoln():
    return next(d for d in fx.config().districts if d.district_id == fx.LINCOLN)


def test_open_on_a_service_day_and_15_minutes_after_close():
    d = _lincoln()
    assert in_service_hours(d, dt.datetime(2026, 3, 23, 7, 30, tzinfo=CHI))  # opens
    assert not in_service_hours(d, dt.datetime(2026, 3, 23, 7, 29, tzinfo=CHI))
    assert in_service_hours(d, dt.datetime(2026, 3, 23, 16, 44, tzinfo=CHI))  # the margin
    assert not in_service_hours(d, dt.datetime(2026, 3, 23, 16, 45, tzinfo=CHI))


def test_closed_on_weekends_federal_holidays_and_district_closures():
    d = _lincoln()
    assert not in_service_hours(d, dt.datetime(2026, 3, 21, 10, tzinfo=CHI))  # Saturday
    assert not in_service_hours(d, dt.datetime(2025, 9, 1, 10, tzinfo=CHI))  # Labor Day
    assert not in_service_hours(d, dt.datetime(2026, 2, 13, 10, tzinfo=CST))  # listed closure
    assert not in_service_hours(d, dt.datetime(2025, 12, 29, 10, tzinfo=CST))  # winter break


def test_each_district_in_its_own_time_zone():
    cfg = fx.config()
    # 15:00 UTC on a Monday: 10:00 in Chicago, 16:00 in Berlin, 08:00 in Phoenix
    at = dt.datetime(2026, 3, 23, 15, tzinfo=dt.UTC)
    assert set(open_districts(cfg, at)) == {fx.LINCOLN, fx.HARBOR, fx.DESERT}
    # 22:00 UTC: Berlin is closed (23:00), Chicago closed (17:00), Phoenix open (15:00)
    late = dt.datetime(2026, 3, 23, 22, tzinfo=dt.UTC)
    assert open_districts(cfg, late) == [fx.DESERT]
