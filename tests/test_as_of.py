"""The as-of date of a run: the last local date fully ended by the interval's end, per zone.

Every expected date below is worked by hand from the zone's UTC offset at the interval's end
(08:00 UTC, the nightly boundary), not computed by the code under test.
"""

from __future__ import annotations

import datetime as dt

import pytest

from schoolcx import pipeline
from schoolcx.asof import as_of_by_district, district_as_of
from schoolcx.config import DeploymentConfig

ZONES = {
    "1500001": "Pacific/Honolulu",  # UTC-10 all year
    "0200001": "America/Anchorage",  # UTC-8 (AKDT) in summer, UTC-9 (AKST) in winter
    "1700001": "America/Chicago",  # UTC-5 / UTC-6
}


def _cfg(*district_ids: str) -> DeploymentConfig:
    return DeploymentConfig.model_validate(
        {
            "name": "zones",
            "districts": [
                {
                    "district_id": d,
                    "name": f"District {d}",
                    "state": "HI",
                    "timezone": ZONES[d],
                    "enrollment": {2026: 1000},
                }
                for d in district_ids
            ],
        }
    )


def end(day: str) -> dt.datetime:
    """The end of the nightly interval of the UTC day before `day`: `day` 08:00 UTC."""
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(8), tzinfo=dt.UTC)


D = dt.date.fromisoformat


@pytest.mark.parametrize(
    ("interval_end", "zone", "expected"),
    [
        # 2025-10-15 08:00Z: Honolulu 10-14 22:00 (the 14th not over), Anchorage AKDT 10-15
        # 00:00 (the 14th just over), Chicago CDT 10-15 03:00.
        ("2025-10-15", "Pacific/Honolulu", "2025-10-13"),
        ("2025-10-15", "America/Anchorage", "2025-10-14"),
        ("2025-10-15", "America/Chicago", "2025-10-14"),
        # 2025-12-15 08:00Z: Anchorage AKST 12-14 23:00, Honolulu 12-14 22:00, Chicago 02:00.
        ("2025-12-15", "America/Anchorage", "2025-12-13"),
        ("2025-12-15", "Pacific/Honolulu", "2025-12-13"),
        ("2025-12-15", "America/Chicago", "2025-12-14"),
        # DST ends 2025-11-02 02:00 local. 11-02 08:00Z is still AKDT (the change is at 10:00Z):
        # 11-02 00:00, so 11-01 is over. 11-03 08:00Z is AKST: 11-02 23:00, 11-02 not over, so
        # the as-of stays 11-01 two nights running.
        ("2025-11-02", "America/Anchorage", "2025-11-01"),
        ("2025-11-03", "America/Anchorage", "2025-11-01"),
        # DST starts 2026-03-08 02:00 local. 03-08 08:00Z is AKST: 03-07 23:00 -> 03-06.
        # 03-09 08:00Z is AKDT: 03-09 00:00 -> 03-08 (two days at once).
        ("2026-03-08", "America/Anchorage", "2026-03-06"),
        ("2026-03-09", "America/Anchorage", "2026-03-08"),
        # Chicago across its own change: 11-02 08:00Z is CST (change at 07:00Z): 11-02 02:00.
        ("2025-11-02", "America/Chicago", "2025-11-01"),
    ],
)
def test_district_as_of_is_the_last_local_date_fully_ended(interval_end, zone, expected):
    assert district_as_of(end(interval_end), zone) == D(expected)


def test_the_run_reports_the_earliest_district_as_of():
    # Before the fix every run reported the UTC date of its start: 2025-12-14 for all three.
    cfg = _cfg("1500001", "0200001", "1700001")
    assert as_of_by_district(end("2025-12-15"), cfg.districts) == {
        "1500001": D("2025-12-13"),
        "0200001": D("2025-12-13"),
        "1700001": D("2025-12-14"),
    }
    assert pipeline.as_of_date(end("2025-12-15"), cfg) == D("2025-12-13")
    assert pipeline.dbt_vars(cfg, pipeline.as_of_date(end("2025-12-15"), cfg))["as_of_date"] == (
        "2025-12-13"
    )
    # a mainland-only deployment keeps reporting day D
    assert pipeline.as_of_date(end("2025-12-15"), _cfg("1700001")) == D("2025-12-14")
    # Alaska in summer agrees with the mainland; Hawaii never does at 08:00 UTC
    assert pipeline.as_of_date(end("2025-10-15"), _cfg("0200001", "1700001")) == D("2025-10-14")
    assert pipeline.as_of_date(end("2025-10-15"), _cfg("1500001", "1700001")) == D("2025-10-13")


def test_naive_interval_end_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        district_as_of(dt.datetime(2025, 10, 15, 8), "America/Chicago")
