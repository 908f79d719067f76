"""fct_backlog_daily's sweep (issue 19) gives exactly what the items x days join gave.

The join it replaced is kept as a test-only query (tests/sql/fct_backlog_daily_items_by_days.sql,
the model's SQL before issue 19 without its incremental branch). On a synthesised world (the
dbt benchmark's synthesiser: two districts, one on Central time across the 2026-03-08 DST change,
one on Arizona time without DST; Presidents' Day, each its own spring break;
tickets created after hours and on weekends; reopened and re-solved tickets, several backlog
spans each; some never answered, so every age bucket and both kinds of past due are filled)
the model is built in full, then one more night (late events of earlier tickets: replies,
solves, closes) incrementally, and each time compared row for row, EXCEPT ALL both ways, with
the reference built on the same data and as-of date.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
import pytest

from schoolcx import pipeline
from schoolcx.sandbox.bench import dbt as bench_dbt
from schoolcx.sandbox.bench.dbt.timing import compile_inline, relation_name

REFERENCE = Path(__file__).with_name("sql") / "fct_backlog_daily_items_by_days.sql"
SCALE = bench_dbt.Scale(
    "backlog",
    (
        bench_dbt.DistrictSpec("Prairie Test SD", "IL", "17", "America/Chicago", 300),
        bench_dbt.DistrictSpec("Mesa Test SD", "AZ", "04", "America/Phoenix", 200),
    ),
    first_day=dt.date(2026, 2, 9),
    last_day=dt.date(2026, 3, 26),  # a Thursday, as the benchmark's scales end
)


def _differences(url: str, cfg, as_of: dt.date, tmp: Path, since: dt.date | None = None) -> dict:
    """Rows of build.fct_backlog_daily not in the reference and the other way round (from
    `since` on when given)."""
    reference = compile_inline(url, REFERENCE.read_text(), tmp, pipeline.dbt_vars(cfg, as_of))
    where = f"where local_date >= '{since}'" if since else ""
    with psycopg.connect(url) as conn:
        conn.execute(f"create temporary table reference as {reference}")
        counts = {}
        model = "build.fct_backlog_daily"
        for a, b in ((model, "reference"), ("reference", model)):
            counts[a] = conn.execute(
                f"select count(*) from (select * from {a} {where}"
                f" except all select * from {b} {where}) as d"
            ).fetchone()[0]
        counts["rows"] = conn.execute(f"select count(*) from reference {where}").fetchone()[0]
    return counts


@pytest.fixture(scope="module")
def world(module_warehouse, tmp_path_factory):
    url = module_warehouse
    tmp = tmp_path_factory.mktemp("backlog_sweep")
    cfg = bench_dbt.prepare(url, SCALE)
    gen = bench_dbt.Synthesiser(url, SCALE, cfg)
    gen.plan()
    gen.land(night=False)
    # the whole project, as the nightly DAG builds it (a selection would leave the data tests
    # of unselected models failing)
    full = bench_dbt.run_dbt(url, cfg, SCALE.last_day, full_refresh=True, target_dir=tmp / "full")
    assert full.ok, "\n".join(full.errors)
    return url, cfg, gen, tmp


def test_the_world_has_what_the_sweep_must_get_right(world):
    url, _, _, tmp = world
    spans = relation_name(tmp / "full", "int_interaction_backlog_spans")
    calendar = relation_name(tmp / "full", "int_calendar_days")
    with psycopg.connect(url) as conn:
        reopened = conn.execute(
            f"select count(*) from {spans} where (select count(*) from unnest(backlog_spans)) > 1"
        ).fetchone()[0]
        after_hours = conn.execute(
            "select count(*) from build.fct_interactions where is_after_hours"
        ).fetchone()[0]
        dst_days, closed_weekdays = conn.execute(
            "select count(*) filter (where timezone = 'America/Chicago'"
            " and local_date between '2026-03-06' and '2026-03-10'),"
            " count(*) filter (where not is_service_day and extract(isodow from local_date) < 6"
            " and local_date between '2026-02-09' and '2026-03-26')"
            f" from {calendar}"
        ).fetchone()
        figures = conn.execute(
            "select sum(past_due_by_target), sum(past_due_by_age), sum(aged_1_2), sum(aged_2_5),"
            " sum(aged_5_10), sum(aged_10_plus), count(distinct district_id)"
            " from build.fct_backlog_daily"
        ).fetchone()
    assert reopened > 0 and after_hours > 0
    assert dst_days == 5
    assert closed_weekdays == 1 + 5 + 5  # Presidents' Day, two spring breaks
    assert all(n > 0 for n in figures[:6]), figures
    assert figures[6] == 2


def test_full_build_equals_items_by_days(world):
    url, cfg, _, tmp = world
    diff = _differences(url, cfg, SCALE.last_day, tmp / "compare-full")
    assert diff["rows"] > 2 * 40
    assert diff["build.fct_backlog_daily"] == 0 and diff["reference"] == 0, diff


def test_next_night_incremental_equals_items_by_days(world):
    url, cfg, gen, tmp = world
    recompute_from = SCALE.last_day - dt.timedelta(days=6)  # backlog_recompute_days: 7
    gen.land(night=True)
    night = bench_dbt.run_dbt(
        url, cfg, SCALE.night_day, full_refresh=False, target_dir=tmp / "night"
    )
    assert night.ok, "\n".join(night.errors)
    with psycopg.connect(url) as conn:
        last = conn.execute("select max(local_date) from build.fct_backlog_daily").fetchone()[0]
    assert last == SCALE.night_day
    # the dates the night recomputed (older ones are kept as built, by design)
    diff = _differences(url, cfg, SCALE.night_day, tmp / "compare-night", since=recompute_from)
    assert diff["rows"] == 2 * 8
    assert diff["build.fct_backlog_daily"] == 0 and diff["reference"] == 0, diff
