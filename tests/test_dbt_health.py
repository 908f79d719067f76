"""Service health models against a real warehouse (issue 18, docs/metrics.md "Service health").

`dbt build` of fct_interactions, fct_backlog_daily and rating_drivers on a fresh migrated
database with the hand-worked Zendesk rows of tests/fixture_dbt_health.py (every expected
number is worked out there), then a second night built incrementally and compared with a full
refresh.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from schoolcx.paths import DBT_PROJECT_DIR
from schoolcx.refsync import sync_config
from schoolcx.warehouse.connect import url_parts
from tests import fixture_dbt_core as core
from tests import fixture_dbt_health as fx

DBT = str(Path(sys.executable).with_name("dbt"))
MARTS = ("fct_interactions", "fct_backlog_daily", "rating_drivers")
SELECTION = ["+fct_backlog_daily", "+rating_drivers", "+dim_district"]
LOADED_AGO = dt.timedelta(days=10)


def _dbt(url: str, tmp: Path, *args: str, as_of: str) -> None:
    env = {
        **os.environ,
        **{f"SCHOOLCX_PG_{k.upper()}": v for k, v in url_parts(url).items()},
        "SCHOOLCX_DBT_THREADS": "2",
        "DBT_TARGET_PATH": str(tmp / "target"),
        "DBT_LOG_PATH": str(tmp / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }
    cmd = [
        DBT,
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--vars",
        f"{{as_of_date: '{as_of}', n_min_observations: {fx.N_MIN}}}",
        "--select",
        *SELECTION,
        "--indirect-selection",
        "cautious",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


def _rows(url: str, sql: str, *params) -> list[dict]:
    with psycopg.connect(url) as conn:
        cur = conn.execute(sql, params)
        names = [c.name for c in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


@pytest.fixture(scope="module")
def built(module_warehouse, tmp_path_factory):
    """Night one built (as of Wed 2026-02-18), then night two (as of Fri 02-20) incrementally."""
    url = module_warehouse
    tmp = tmp_path_factory.mktemp("dbt_health")
    sync_config(url, fx.config(), today=core.CONFIG_TODAY)
    core.insert_rows(url, fx.night_one_rows(), "night-1", LOADED_AGO)
    _dbt(url, tmp, "build", as_of=fx.AS_OF_NIGHT_ONE)
    night_one = {
        r["local_date"]: r
        for r in _rows(
            url, "select * from build.fct_backlog_daily where district_id = %s", core.LINCOLN
        )
    }
    core.insert_rows(url, fx.night_two_rows(), "night-2")
    _dbt(url, tmp, "build", as_of=fx.AS_OF_NIGHT_TWO)
    return url, tmp, night_one


def _facts(url: str) -> dict[str, dict]:
    return {r["source_id"]: r for r in _rows(url, "select * from build.fct_interactions")}


def _backlog(url: str) -> dict[dt.date, dict]:
    return {r["local_date"]: r for r in _rows(url, "select * from build.fct_backlog_daily")}


def test_reopened_one_touch_and_after_hours_by_hand(built):
    url, _, _ = built
    fct = _facts(url)
    got = {
        sid: (fct[sid]["reopened"], fct[sid]["one_touch"], fct[sid]["agent_response_count"])
        for sid in ("3001", "3002", "3003", "3004", "3006")
    }
    assert got == {
        "3001": (True, False, 3),  # reopened twice, three agent replies
        "3002": (False, True, 1),  # the requester's "thanks" is no response
        "3003": (False, True, 1),  # the trigger's auto-reply is no response
        "3004": (False, False, 0),
        "3006": (False, False, 1),  # one reply but not solved: not one-touch
    }
    assert fct["3003"]["first_response_business_minutes"] == 240
    assert fct["3006"]["is_after_hours"] is True  # Saturday
    assert fct["3004"]["is_after_hours"] is False  # Thursday 15:00, inside 07:30-16:30
    # the solve history: 3001 waited only at the end of Wed 02-04 (reopened that morning)
    backlog = _backlog(url)
    assert [backlog[dt.date(2026, 2, d)]["backlog"] for d in (2, 3, 4, 5)] == [0, 0, 1, 0]
    assert backlog[dt.date(2026, 2, 4)]["aged_2_5"] == 1  # 1530 min = 2.83 service days
    assert backlog[dt.date(2026, 2, 4)]["oldest_age_service_days"] == Decimal("2.8333")


def test_backlog_across_a_weekend_and_closures_with_past_due(built):
    url, _, night_one = built
    backlog = _backlog(url)
    # 3004 (Thu 02-12 15:00) ages 90 business minutes through Fri closure, the weekend and
    # Presidents' Day; 3006 (Sat 10:00, answered Tue but never solved) stays in the backlog
    ages = {d: backlog[dt.date(2026, 2, d)]["oldest_age_service_days"] for d in range(12, 21)}
    assert ages == {
        12: Decimal("0.1667"),
        13: Decimal("0.1667"),
        14: Decimal("0.1667"),
        15: Decimal("0.1667"),
        16: Decimal("0.1667"),
        17: Decimal("1.1667"),
        18: Decimal("2.1667"),
        19: Decimal("3.1667"),
        20: Decimal("4.1667"),
    }
    assert [backlog[dt.date(2026, 2, d)]["backlog"] for d in range(12, 21)] == [
        1, 1, 2, 2, 2, 2, 2, 2, 3
    ]  # fmt: skip
    buckets = ("aged_under_1", "aged_1_2", "aged_2_5", "aged_5_10", "aged_10_plus")
    # 3006 is 1.0 service day old at Tuesday's end (a bucket's lower bound is inside it), 4.0
    # at Friday's
    assert [backlog[dt.date(2026, 2, 17)][b] for b in buckets] == [0, 2, 0, 0, 0]
    assert [backlog[dt.date(2026, 2, 20)][b] for b in buckets] == [1, 0, 2, 0, 0]
    # past due by age (3.17 > 3 configured days, 1710 < its 2700-minute target) from Thu 02-19;
    # by target: 3005, urgent, 480 minutes unanswered at Friday's end, 0.89 days old; by age
    # though answered: 3006, 3.0 days at Thursday's end (not more than 3), 4.0 at Friday's
    due = {
        d: (
            backlog[dt.date(2026, 2, d)]["past_due"],
            backlog[dt.date(2026, 2, d)]["past_due_by_target"],
            backlog[dt.date(2026, 2, d)]["past_due_by_age"],
        )
        for d in (18, 19, 20)
    }
    assert due == {18: (0, 0, 0), 19: (1, 0, 1), 20: (3, 1, 2)}
    # night one ended at its as-of date with the same history
    assert max(night_one) == dt.date(2026, 2, 18)
    assert night_one[dt.date(2026, 2, 18)]["backlog"] == 2
    assert min(backlog) == dt.date(2026, 2, 2)  # from the first interaction


def test_rating_drivers_ties_and_a_bucket_below_n(built):
    url, _, _ = built
    rows = {
        r["response_bucket"]: r
        for r in _rows(url, "select * from build.rating_drivers where school_year = 2026")
    }
    assert len(rows) == 6  # every bucket listed, empty ones with 0
    one_to_four = rows["1_to_4_hours"]  # 3001 good, 3002 good, 3006 bad
    assert (
        one_to_four["rating_count"],
        one_to_four["feedback_score"],
        one_to_four["suppressed_below_n"],
    ) == (3, Decimal("3.67"), False)
    assert abs(one_to_four["positive_share"] - Decimal(2) / 3) < Decimal("1e-9")
    below = rows["4_hours_to_1_day"]
    assert (below["rating_count"], below["feedback_score"], below["positive_share"]) == (
        1,
        None,
        None,
    )
    assert below["suppressed_below_n"] is True
    assert rows["unanswered_when_rated"]["rating_count"] == 1
    assert rows["under_1_hour"]["rating_count"] == 0
    # ties averaged: -2 / sqrt(12)
    assert {(r["spearman_n"], r["spearman_rho"]) for r in rows.values()} == {
        (4, Decimal("-0.5774"))
    }


def test_backlog_incremental_equals_full_refresh(built):
    url, tmp, _ = built
    with psycopg.connect(url) as conn:
        conn.execute("drop schema if exists incremental_result cascade")
        conn.execute("create schema incremental_result")
        for mart in MARTS:
            conn.execute(f"create table incremental_result.{mart} as select * from build.{mart}")
    _dbt(url, tmp, "build", "--full-refresh", as_of=fx.AS_OF_NIGHT_TWO)
    with psycopg.connect(url) as conn:
        for mart in MARTS:
            for a, b in (("build", "incremental_result"), ("incremental_result", "build")):
                diff = conn.execute(
                    f"select count(*) from (select * from {a}.{mart} "
                    f"except all select * from {b}.{mart}) as d"
                ).fetchone()[0]
                assert diff == 0, f"{mart}: {diff} rows of {a} not in {b}"
        days = conn.execute("select count(*) from build.fct_backlog_daily").fetchone()[0]
    assert days == 19  # 02-02 .. 02-20
