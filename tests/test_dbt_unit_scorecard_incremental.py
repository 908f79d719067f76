"""unit_scorecard's night (incremental by district period) equals a full refresh.

On the hand-worked district of tests/test_dbt_unit_marts.py, with a few more interactions in
other periods, night one builds the unit marts in full; then the upstream facts change the ways
a night changes them, each one caught by a different path of the model's change detection
(macros/unit_periods.sql):

- a rating lands late for an interaction of the previous school year: that old year, month and
  week are recomputed;
- a newer rating replaces an old interaction's (fct_ratings row written since, same count): its
  old month and week are recomputed;
- an old interaction is updated (its language 'de' becomes 'en'): the 'de' unit, which had no
  other interaction, vanishes from its periods;
- an interaction is deleted with no newer row (quarantined): its week's district count differs;
- a rating is deleted (quarantined): its week's district rating count differs;
- the as-of date moves a day: an interaction loaded before night one but dated after its as-of
  date now counts, and the new day is a service day (district figures differ; a new month).

After the incremental night, unit_scorecard EXCEPT ALL a full refresh is empty both ways, and a
week nothing touched was not rewritten.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg
import pytest

from tests.test_dbt_unit_marts import S1, S2, D, dbt_build, fetch, load

# (key, local_date, school, department, stakeholder, channel, language, minutes)
MORE = [
    ("o1", dt.date(2025, 3, 10), S1, "hr", "parent", "web", "en", 10),
    ("o2", dt.date(2025, 3, 11), S1, "hr", "parent", "web", "de", 20),
    # rated 4 each (n = 3: the month shows a feedback score)
    ("o3", dt.date(2025, 4, 14), S1, "hr", "parent", "web", "en", 10),
    ("o4", dt.date(2025, 4, 15), S1, "hr", "parent", "web", "en", 10),
    ("o5", dt.date(2025, 4, 16), S1, "hr", "parent", "web", "en", 10),
    ("w2", dt.date(2025, 9, 9), S2, "enrollment", "parent", "email", "es", 5),
    ("w3", dt.date(2025, 9, 10), S2, "enrollment", "parent", "email", "es", 7),
    ("q1", dt.date(2025, 9, 16), S2, "enrollment", "student", "web", "en", 12),
    ("e1", dt.date(2025, 9, 29), S1, "transportation", "parent", "web", "en", 25),
    # after night one's as-of date (30 September): loaded, not yet counted
    ("f1", dt.date(2025, 10, 1), S1, "transportation", "parent", "web", "en", 35),
]
QUIET_WEEK = dt.date(2025, 9, 15)  # q1's: nothing changes it on night two


def _load_more(url: str) -> None:
    with psycopg.connect(url) as conn:
        for key, day, school, dept, who, channel, lang, minutes in MORE:
            conn.execute(
                "insert into build.fct_interactions (interaction_key, district_id, local_date,"
                " high_risk, first_response_at, first_response_business_minutes, sla_met,"
                " school_id, department, stakeholder_type, channel, language) values"
                " (%s, %s, %s, false, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    key,
                    D,
                    day,
                    dt.datetime.combine(day, dt.time(15), dt.UTC),
                    minutes,
                    minutes <= 30,
                    school,
                    dept,
                    who,
                    channel,
                    lang,
                ),
            )
        for key in ("o3", "o4", "o5"):
            conn.execute("insert into build.fct_ratings values (%s, 4)", (key,))


def _night_two(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("insert into build.fct_ratings values ('o1', 5)")  # late rating
        # a newer rating replaces o5's: the count stays, only the fct_ratings row is new
        conn.execute("update build.fct_ratings set rating_1_5 = 1 where interaction_key = 'o5'")
        conn.execute(
            "update build.fct_interactions set language = 'en' where interaction_key = 'o2'"
        )
        conn.execute("delete from build.fct_interactions where interaction_key = 'w2'")
        conn.execute("delete from build.fct_ratings where interaction_key = 'i6'")
        conn.execute("update int.int_as_of set as_of_date = '2025-10-01'")
        conn.execute("insert into build.fct_daily_volume values (%s, '2025-10-01', true)", (D,))


def _unit_rows(url: str, where: str = "true") -> list[dict]:
    return fetch(url, f"select * from build.unit_scorecard where {where}")


@pytest.fixture(scope="module")
def nights(module_warehouse, tmp_path_factory):
    url = module_warehouse
    work = tmp_path_factory.mktemp("dbt_unit_scorecard_incremental")
    load(url)
    _load_more(url)
    dbt_build(url, work)  # night one: the first build, in full
    quiet_before = fetch(
        url,
        "select xmin::text as xmin, * from build.unit_scorecard"
        " where period_type = 'week' and period_start = %s",
        (QUIET_WEEK,),
    )
    _night_two(url)
    dbt_build(url, work)  # night two: incremental
    incremental = _unit_rows(url)
    quiet_after = fetch(
        url,
        "select xmin::text as xmin, * from build.unit_scorecard"
        " where period_type = 'week' and period_start = %s",
        (QUIET_WEEK,),
    )
    with psycopg.connect(url) as conn:
        conn.execute("drop schema if exists night_two cascade")
        conn.execute("create schema night_two")
        conn.execute("create table night_two.unit_scorecard as select * from build.unit_scorecard")
    dbt_build(url, work, "--full-refresh")
    return url, incremental, quiet_before, quiet_after


def test_incremental_night_equals_full_refresh(nights):
    url, incremental, _, _ = nights
    assert incremental  # the night kept its rows
    with psycopg.connect(url) as conn:
        for a, b in (("build", "night_two"), ("night_two", "build")):
            diff = conn.execute(
                f"select count(*) from (select * from {a}.unit_scorecard"
                f" except all select * from {b}.unit_scorecard) as d"
            ).fetchone()[0]
            assert diff == 0, f"unit_scorecard: {diff} rows of {a} not in {b}"


def test_each_change_reached_its_old_period(nights):
    _, incremental, _, _ = nights
    rows = {
        (r["unit_type"], r["unit_key"], r["period_type"], r["period_start"]): r for r in incremental
    }
    march = dt.date(2025, 3, 1)
    # the late rating of o1 counts in its (previous) school year and month
    assert rows["school", S1, "month", march]["rating_count"] == 1
    assert rows["school", S1, "school_year", dt.date(2024, 7, 1)]["rating_count"] == 4  # o3-o5
    # o5's newer rating: April's feedback score is (4 + 4 + 1) / 3
    assert rows["school", S1, "month", dt.date(2025, 4, 1)]["feedback_score"] == Decimal("3.00")
    # 'de' had o2 only: gone from every period; o2 now counts under 'en'
    assert not [k for k in rows if k[:2] == ("language", "de")]
    assert rows["language", "en", "month", march]["interactions"] == 2
    # w2 deleted: its week keeps w3 only
    assert rows["school", S2, "week", dt.date(2025, 9, 8)]["interactions"] == 1
    # i6's rating deleted: the week of 1 September keeps the ratings of i1, i2 and i3
    week_one = [
        r for k, r in rows.items() if k[0] == "channel" and k[2:] == ("week", dt.date(2025, 9, 1))
    ]
    assert sum(r["rating_count"] for r in week_one) == 3
    # the as-of date moved to 1 October: f1 counts, the week has 3 service days, October exists
    week_last = rows["school", S1, "week", dt.date(2025, 9, 29)]
    assert (week_last["interactions"], week_last["service_days"]) == (2, 3)
    assert rows["school", S1, "month", dt.date(2025, 10, 1)]["interactions"] == 1


def test_a_period_nothing_changed_is_not_rewritten(nights):
    _, _, quiet_before, quiet_after = nights
    assert quiet_before
    assert quiet_after == quiet_before  # same rows, same writing transaction (xmin)
