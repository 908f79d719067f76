"""The benchmark marts (district_scorecard, peer_benchmarks, yoy_trends) against docs/metrics.md.

The upstream relations (dim_district, fct_daily_volume, fct_interactions, fct_ratings,
fct_survey_item_results in `build`, stg_ref__district_enrollment in `stg`, int_as_of in `int`)
are created as plain tables filled with seeded random rows; dbt then builds only the
benchmark models on top of them (their unit tests and data tests run too). Every figure is
recomputed here in plain Python straight from the definitions in docs/metrics.md and compared
with the marts.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import random
import subprocess
import sys
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import psycopg
import pytest

from schoolcx.warehouse.connect import url_parts

REPO = Path(__file__).resolve().parents[1]
DBT_PROJECT = REPO / "dbt_project"
DBT = Path(sys.executable).with_name("dbt")

K_MIN = 5
N_MIN = 30
FIRST_DAY = dt.date(2022, 7, 1)
LAST_DAY = dt.date(2024, 2, 29)  # the as-of date (int_as_of): a 29 February
BENCHMARK_MODELS = [
    "int_yoy_spans_resolved",
    "int_district_periods_aggregated",
    "int_benchmark_district_periods",
    "int_benchmark_survey_items",
    "int_benchmark_yoy_spans",
    "int_benchmark_metric_values",
    "district_scorecard",
    "district_period_figures",
    "peer_benchmarks",
    "yoy_trends",
]
METRIC_DIRECTIONS = {
    "interactions_per_1000_students_per_service_day": None,
    "high_risk_share": None,
    "answered_share": "higher",
    "median_first_response_business_minutes": "lower",
    "p90_first_response_business_minutes": "lower",
    "sla_met_share": "higher",
    "feedback_score": "higher",
    "positive_share": "higher",
    "after_hours_share": None,
    "reopen_rate": "lower",
    "one_touch_share": "higher",
    "backlog_end": None,
    "past_due_end": "lower",
}
FEEDBACK_METRICS = {"feedback_score", "positive_share"}
# observations of the ticket metrics: tickets ever solved / solved now (none in this world)
TICKET_METRICS = {"reopen_rate", "one_touch_share"}
BANDS = [
    (2500, "under 2,500"),
    (5000, "2,500-4,999"),
    (10000, "5,000-9,999"),
    (25000, "10,000-24,999"),
    (50000, "25,000-49,999"),
    (75000, "50,000-74,999"),
]


# --- the world -------------------------------------------------------------------------------


def band_of(enrollment: int) -> str:
    for upper, name in BANDS:
        if enrollment < upper:
            return name
    return "75,000 and over"


def school_year_of(day: dt.date) -> int:
    return day.year + 1 if day.month >= 7 else day.year


def enrollment_for(configured: dict[int, int], school_year: int) -> int:
    """The configured enrollment of the year, else the nearest earlier year's, else the
    earliest year's (schoolcx.config.District.enrollment_for)."""
    earlier = [year for year in configured if year <= school_year]
    return configured[max(earlier) if earlier else min(configured)]


def make_world(seed: int = 20240229) -> dict:
    """Thirteen districts in two states; consortium C1 (seven, five of them in one band) and
    C2 (four, one shared with C1); five OK districts in one band; half of them busy enough for
    weekly figures to reach n."""
    rnd = random.Random(seed)
    districts = []
    for i in range(13):
        district_id = f"48{i:05d}"
        state = "TX" if i < 8 else "OK"
        consortiums = []
        if i < 7:
            consortiums.append("C1")
        if 6 <= i < 10:
            consortiums.append("C2")
        current_enrollment = 1500 + 200 * i if i < 5 else 3000 + 150 * i
        configured = {2023: current_enrollment - 40 * (i % 3), 2024: current_enrollment}
        if i == 3:
            del configured[2024]  # 2024 falls back to the nearest earlier year, 2023
        if i == 4:
            configured[2024] = 2600  # grew out of the under-2,500 band: new peers from 2024
        districts.append(
            {
                "district_id": district_id,
                "state": state,
                "consortium_ids": consortiums,
                "configured_enrollment": configured,
                "enrollment": {sy: enrollment_for(configured, sy) for sy in (2022, 2023, 2024)},
                "busy": i % 2 == 0,
            }
        )
    closures = {
        dt.date(2022, 11, 24),
        dt.date(2022, 12, 26),
        dt.date(2023, 1, 2),
        dt.date(2023, 11, 23),
        dt.date(2023, 12, 25),
        dt.date(2024, 1, 1),
    }

    daily, interactions, ratings, survey = [], [], [], []
    key = 0
    for d in districts:
        day = FIRST_DAY
        while day <= LAST_DAY:
            service = day.isoweekday() <= 5 and day not in closures
            sy = school_year_of(day)
            daily.append((d["district_id"], day, sy, service, d["enrollment"][sy]))
            if service:
                count = rnd.randint(5, 11) if d["busy"] else rnd.randint(0, 3)
            else:
                count = rnd.choice([0, 0, 0, 1])
            for _ in range(count):
                key += 1
                answered = rnd.random() < 0.85
                minutes = round(rnd.uniform(0, 1500), 2) if answered else None
                # unanswered: target elapsed (False) or not yet (None)
                sla_met = minutes <= 540 if answered else rnd.choice([False, None])
                created = dt.datetime.combine(day, dt.time(15, 0), tzinfo=dt.UTC)
                interactions.append(
                    (
                        f"k{key}",
                        d["district_id"],
                        day,
                        sy,
                        rnd.random() < 0.1,
                        created,
                        created + dt.timedelta(minutes=minutes) if answered else None,
                        minutes,
                        sla_met,
                    )
                )
                if rnd.random() < 0.45:
                    raw = rnd.randint(1, 10)
                    r5 = Decimal(1) + Decimal(4) * Decimal(raw - 1) / Decimal(9)
                    ratings.append(
                        (
                            f"k{key}",
                            d["district_id"],
                            created,
                            str(raw),
                            "1-10",
                            r5.quantize(Decimal("0.0001")),
                        )
                    )
            day += dt.timedelta(days=1)
        for sy in (2023, 2024):
            for item in ("feel_safe", "staff_respond"):
                valid = rnd.randint(10, 120)
                agree = rnd.randint(0, valid)
                survey.append(
                    (
                        d["district_id"],
                        sy,
                        item,
                        valid,
                        agree,
                        (Decimal(agree) * 100 / Decimal(valid)).quantize(Decimal("0.01")),
                    )
                )
    return {
        "districts": districts,
        "daily": daily,
        "interactions": interactions,
        "ratings": ratings,
        "survey": survey,
    }


DDL = """
create schema if not exists build;
drop table if exists build.dim_district, build.fct_daily_volume, build.fct_interactions,
    build.fct_ratings, build.fct_survey_item_results, build.fct_backlog_daily cascade;
create table build.dim_district (
    district_id text primary key, name text, state text, timezone text, enrollment integer,
    enrollment_band text, consortium_ids text[], service_day_minutes numeric);
create table build.fct_daily_volume (
    district_id text, local_date date, school_year integer, is_service_day boolean,
    interactions integer, high_risk_interactions integer, enrollment integer,
    interactions_per_1000_students numeric);
create table build.fct_interactions (
    interaction_key text primary key, district_id text, local_date date, school_year integer,
    high_risk boolean, created_at timestamptz, first_response_at timestamptz,
    first_response_business_minutes numeric, sla_met boolean,
    -- service health (issue 18): this world has email threads only, answered in hours
    source_system text default 'imap', is_after_hours boolean default false,
    ever_solved boolean default false, reopened boolean default false, status text,
    one_touch boolean default false);
create table build.fct_backlog_daily (
    district_id text, local_date date, backlog integer, past_due integer);
create table build.fct_ratings (
    interaction_key text primary key, district_id text, rated_at timestamptz,
    rating_value text, rating_scale text, rating_1_5 numeric);
create table build.fct_survey_item_results (
    district_id text, school_year integer, item_code text, valid_answers integer,
    agree_answers integer, percent_agree numeric);
create schema if not exists stg;
create schema if not exists int;
drop table if exists stg.stg_ref__district_enrollment, int.int_as_of cascade;
create table stg.stg_ref__district_enrollment (
    district_id text, school_year integer, enrollment integer);
create table int.int_as_of (as_of_date date);
"""


def load_world(url: str, world: dict, as_of: dt.date) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(DDL)
        conn.execute("insert into int.int_as_of values (%s)", (as_of,))
        with conn.cursor() as cur:
            with cur.copy("copy build.dim_district from stdin") as copy:
                for d in world["districts"]:
                    copy.write_row(
                        (
                            d["district_id"],
                            f"District {d['district_id']}",
                            d["state"],
                            "America/Chicago",
                            d["enrollment"][2024],
                            band_of(d["enrollment"][2024]),
                            d["consortium_ids"],
                            540,
                        )
                    )
            with cur.copy("copy stg.stg_ref__district_enrollment from stdin") as copy:
                for d in world["districts"]:
                    for year, enrollment in d["configured_enrollment"].items():
                        copy.write_row((d["district_id"], year, enrollment))
            with cur.copy(
                "copy build.fct_daily_volume (district_id, local_date, school_year, "
                "is_service_day, enrollment) from stdin"
            ) as copy:
                for row in world["daily"]:
                    copy.write_row(row)
            with cur.copy(
                "copy build.fct_interactions (interaction_key, district_id, local_date,"
                " school_year, high_risk, created_at, first_response_at,"
                " first_response_business_minutes, sla_met) from stdin"
            ) as copy:
                for row in world["interactions"]:
                    copy.write_row(row)
            with cur.copy("copy build.fct_ratings from stdin") as copy:
                for row in world["ratings"]:
                    copy.write_row(row)
            with cur.copy("copy build.fct_survey_item_results from stdin") as copy:
                for row in world["survey"]:
                    copy.write_row(row)


# --- docs/metrics.md, in Python ---------------------------------------------------------------


def percentile_cont(values: list[float], p: float) -> float:
    ordered = sorted(values)
    position = p * (len(ordered) - 1)
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def periods_of(day: dt.date) -> list[tuple[str, dt.date]]:
    sy = school_year_of(day)
    return [
        ("school_year", dt.date(sy - 1, 7, 1)),
        ("month", day.replace(day=1)),
        ("week", day - dt.timedelta(days=day.weekday())),
    ]


def figures(days, interactions, ratings, enrollment) -> dict:
    """A district's figures over one period: its calendar days, the interactions created in it
    and the latest ratings of those interactions."""
    n = len(interactions)
    service_days = sum(1 for _, service in days if service)
    answered = [i["minutes"] for i in interactions if i["answered"]]
    evaluated = [i["sla_met"] for i in interactions if i["sla_met"] is not None]
    r5 = list(ratings)
    feedback = None
    if r5:
        feedback = (sum(r5) / Decimal(len(r5))).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return {
        "interactions": n,
        "service_days": service_days,
        "interactions_per_1000_students_per_service_day": n * 1000 / service_days / enrollment
        if service_days and enrollment
        else None,
        "high_risk_share": sum(i["high_risk"] for i in interactions) / n if n else None,
        "answered_share": len(answered) / n if n else None,
        "median_first_response_business_minutes": percentile_cont(answered, 0.5)
        if answered
        else None,
        "p90_first_response_business_minutes": percentile_cont(answered, 0.9) if answered else None,
        "sla_met_share": sum(evaluated) / len(evaluated) if evaluated else None,
        "feedback_score": feedback,
        "positive_share": sum(1 for r in r5 if r >= 4) / len(r5) if r5 else None,
        "rating_count": len(r5),
        # service health: email threads created in service hours, no tickets, no backlog rows
        "after_hours_share": 0 if n else None,
        "reopen_rate": None,
        "one_touch_share": None,
        "backlog_end": 0,
        "past_due_end": 0,
    }


def expected_marts(world: dict, as_of: dt.date) -> tuple[dict, dict, dict]:
    enrollment = {
        (d["district_id"], sy): e for d in world["districts"] for sy, e in d["enrollment"].items()
    }
    rating_of = {key: r5 for key, _, _, _, _, r5 in world["ratings"]}
    days_by = defaultdict(list)
    inter_by = defaultdict(list)
    rates_by = defaultdict(list)
    span_days, span_inter, span_rates = defaultdict(list), defaultdict(list), defaultdict(list)

    current_start = dt.date(school_year_of(as_of) - 1, 7, 1)
    prior_start = dt.date(school_year_of(as_of) - 2, 7, 1)
    try:
        prior_end = as_of.replace(year=as_of.year - 1)
    except ValueError:  # 29 February: the prior year has none
        prior_end = as_of.replace(year=as_of.year - 1, day=28)
    spans = {"current": (current_start, as_of), "prior": (prior_start, prior_end)}

    def span_keys(day):
        return [name for name, (start, end) in spans.items() if start <= day <= end]

    for district_id, day, _, service, _ in world["daily"]:
        for period in periods_of(day):
            days_by[(district_id, *period)].append((day, service))
        for name in span_keys(day):
            span_days[(district_id, name)].append((day, service))
    for key, district_id, day, _, high_risk, _, first_at, minutes, sla_met in world["interactions"]:
        record = {
            "high_risk": high_risk,
            "answered": first_at is not None,
            "minutes": float(minutes) if minutes is not None else None,
            "sla_met": sla_met,
        }
        for period in periods_of(day):
            inter_by[(district_id, *period)].append(record)
            if key in rating_of:
                rates_by[(district_id, *period)].append(rating_of[key])
        for name in span_keys(day):
            span_inter[(district_id, name)].append(record)
            if key in rating_of:
                span_rates[(district_id, name)].append(rating_of[key])

    scorecard = {}
    for district_id, period_type, start in set(days_by) | set(inter_by):
        k = (district_id, period_type, start)
        scorecard[k] = figures(
            days_by[k],
            inter_by[k],
            rates_by[k],
            enrollment.get((district_id, school_year_of(start))),
        )

    span_figures = {}
    for district_id, name in set(span_days) | set(span_inter):
        k = (district_id, name)
        span_figures[k] = figures(
            span_days[k],
            span_inter[k],
            span_rates[k],
            enrollment.get((district_id, school_year_of(spans[name][0]))),
        )

    peers = expected_peers(world, scorecard)
    yoy = expected_yoy(span_figures, school_year_of(as_of))
    return scorecard, peers, yoy


def metric_rows(scorecard: dict, survey: list) -> dict:
    """(metric, period_type, period_start) -> {district: (value, observations, direction)}."""
    rows = defaultdict(dict)
    for (district_id, period_type, start), f in scorecard.items():
        for metric, direction in METRIC_DIRECTIONS.items():
            n = f["rating_count"] if metric in FEEDBACK_METRICS else f["interactions"]
            n = 0 if metric in TICKET_METRICS else n
            rows[(metric, period_type, start)][district_id] = (f[metric], n, direction)
    for district_id, sy, item, valid, _, percent in survey:
        rows[(f"percent_agree.{item}", "school_year", dt.date(sy - 1, 7, 1))][district_id] = (
            percent,
            valid,
            "higher",
        )
    return rows


def expected_peers(world: dict, scorecard: dict) -> dict:
    info = {d["district_id"]: d for d in world["districts"]}

    def groups_at(district_id, level, school_year):
        # the band of the period's school year (a week: the year it starts in)
        band = {o: band_of(info[o]["enrollment"][school_year]) for o in info}
        d = info[district_id]
        if level == 1:
            return [
                (
                    "consortium_and_enrollment_band",
                    f"{c} / {band[district_id]}",
                    {
                        o
                        for o in info
                        if c in info[o]["consortium_ids"] and band[o] == band[district_id]
                    },
                )
                for c in d["consortium_ids"]
            ]
        if level == 2:
            return [
                ("consortium", c, {o for o in info if c in info[o]["consortium_ids"]})
                for c in d["consortium_ids"]
            ]
        if level == 3:
            return [
                (
                    "state_and_enrollment_band",
                    f"{d['state']} / {band[district_id]}",
                    {
                        o
                        for o in info
                        if info[o]["state"] == d["state"] and band[o] == band[district_id]
                    },
                )
            ]
        return [("all_districts", "all", set(info))]

    result = {}
    for (metric, period_type, start), values in metric_rows(scorecard, world["survey"]).items():
        qualifying = {
            d: float(v) for d, (v, n, _) in values.items() if v is not None and n >= N_MIN
        }
        for district_id, (value, n, direction) in values.items():
            chosen = None
            for level in (1, 2, 3, 4):
                published = []
                for name, key, members in groups_at(district_id, level, school_year_of(start)):
                    in_stats = [qualifying[m] for m in members if m in qualifying]
                    if len(in_stats) >= K_MIN:
                        published.append((-len(in_stats), key, name, members))
                if published:
                    chosen = min(published)
                    break
            row = {"district_value": None if value is None else float(value)}
            if chosen is None:
                row.update(
                    peer_group=None,
                    peer_group_key=None,
                    n_districts=None,
                    peer_p25=None,
                    peer_median=None,
                    peer_p75=None,
                    percentile_rank=None,
                    delta_from_median=None,
                    suppression_reason="no_peer_group_meets_k",
                )
            else:
                _, key, name, members = chosen
                stats = [qualifying[m] for m in members if m in qualifying]
                median = percentile_cont(stats, 0.5)
                rank = None
                if district_id in qualifying and direction is not None:
                    others = [
                        qualifying[m] for m in members if m in qualifying and m != district_id
                    ]
                    mine = qualifying[district_id]
                    worse = [o for o in others if (o < mine if direction == "higher" else o > mine)]
                    rank = len(worse) / len(others)
                reason = None
                if value is None:
                    reason = "no_district_value"
                elif n < N_MIN:
                    reason = "district_below_n"
                row.update(
                    peer_group=name,
                    peer_group_key=key,
                    n_districts=len(stats),
                    peer_p25=percentile_cont(stats, 0.25),
                    peer_median=median,
                    peer_p75=percentile_cont(stats, 0.75),
                    percentile_rank=rank,
                    delta_from_median=None if value is None else float(value) - median,
                    suppression_reason=reason,
                )
            result[(district_id, metric, period_type, start)] = row
    return result


def expected_yoy(span_figures: dict, school_year: int) -> dict:
    result = {}
    for (district_id, name), current in span_figures.items():
        if name != "current":
            continue
        prior = span_figures.get((district_id, "prior"))
        for metric, direction in METRIC_DIRECTIONS.items():
            count = "rating_count" if metric in FEEDBACK_METRICS else "interactions"
            cur = current[metric]
            pri = prior[metric] if prior else None
            both_n = current[count] >= N_MIN and prior is not None and prior[count] >= N_MIN
            change = pct = trend = None
            if both_n and cur is not None and pri is not None:
                change = float(cur) - float(pri)
                if pri != 0:
                    pct = change / float(pri) * 100
                    if direction is not None:
                        if abs(change) < 0.02 * abs(float(pri)):
                            trend = "steady"
                        elif (change > 0) == (direction == "higher"):
                            trend = "improving"
                        else:
                            trend = "declining"
            result[(district_id, metric)] = {
                "school_year": school_year,
                "current_value": None if cur is None else float(cur),
                "prior_value": None if pri is None else float(pri),
                "change": change,
                "pct_change": pct,
                "direction": trend,
            }
    return result


# --- the test ---------------------------------------------------------------------------------


def close(actual, expected) -> bool:
    if actual is None or expected is None:
        return actual is None and expected is None
    if isinstance(expected, str) or isinstance(actual, str):
        return actual == expected
    return math.isclose(float(actual), float(expected), rel_tol=1e-9, abs_tol=1e-9)


def assert_rows_match(actual: dict, expected: dict, what: str) -> None:
    assert set(actual) == set(expected), (
        f"{what}: keys differ; missing {sorted(set(expected) - set(actual))[:5]}, "
        f"extra {sorted(set(actual) - set(expected))[:5]}"
    )
    mismatches = []
    for key, want in expected.items():
        got = actual[key]
        for column, value in want.items():
            if not close(got[column], value):
                mismatches.append((key, column, got[column], value))
    assert not mismatches, f"{what}: {len(mismatches)} mismatches, e.g. {mismatches[:5]}"


def dbt_build(url: str, work: Path, models: list[str]) -> None:
    """dbt build of `models` (unit tests, models, data tests) against `url`; fails the test
    with dbt's output when anything fails."""
    parts = url_parts(url)
    env = {
        **os.environ,
        "SCHOOLCX_PG_HOST": parts["host"],
        "SCHOOLCX_PG_PORT": parts["port"],
        "SCHOOLCX_PG_USER": parts["user"],
        "SCHOOLCX_PG_PASSWORD": parts["password"],
        "SCHOOLCX_PG_DBNAME": parts["dbname"],
        "SCHOOLCX_DBT_THREADS": "2",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DO_NOT_TRACK": "1",
    }
    # build = unit tests, then each model, then its data tests (a failure stops the flow).
    completed = subprocess.run(
        [
            str(DBT),
            "build",
            "--profiles-dir",
            str(DBT_PROJECT),
            "--project-dir",
            str(DBT_PROJECT),
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
            "--select",
            *models,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-2000:]


@pytest.fixture(scope="module")
def built(module_warehouse, tmp_path_factory):
    """The world loaded, and the benchmark models built by dbt on top of it."""
    world = make_world()
    load_world(module_warehouse, world, LAST_DAY)
    dbt_build(module_warehouse, tmp_path_factory.mktemp("dbt_benchmarks"), BENCHMARK_MODELS)
    return world, module_warehouse


def fetch(url: str, sql: str) -> list[dict]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(sql).fetchall()


def test_scorecard_matches_metrics_definitions(built):
    world, url = built
    scorecard, _, _ = expected_marts(world, LAST_DAY)
    rows = fetch(url, "select * from build.district_scorecard")
    actual = {(r["district_id"], r["period_type"], r["period_start"]): r for r in rows}
    assert_rows_match(actual, scorecard, "district_scorecard")
    # the periods are the school year, month and ISO week of each local date
    assert {r["period_type"] for r in rows} == {"school_year", "month", "week"}
    assert all(r["period_start"].isoweekday() == 1 for r in rows if r["period_type"] == "week")


def test_peer_benchmarks_match_metrics_definitions(built):
    world, url = built
    _, peers, _ = expected_marts(world, LAST_DAY)
    rows = fetch(url, "select * from build.peer_benchmarks")
    actual = {(r["district_id"], r["metric"], r["period_type"], r["period_start"]): r for r in rows}
    assert_rows_match(actual, peers, "peer_benchmarks")
    # the world exercises every branch: published at each level, fallback and suppression
    used = {r["peer_group"] for r in rows}
    assert {
        "consortium_and_enrollment_band",
        "consortium",
        "state_and_enrollment_band",
        "all_districts",
        None,
    } <= used
    reasons = {r["suppression_reason"] for r in rows}
    assert {"no_peer_group_meets_k", "district_below_n", None} <= reasons
    assert any(r["metric"].startswith("percent_agree.") for r in rows)


def test_peer_benchmarks_never_publish_small_groups(built):
    _, url = built
    rows = fetch(url, "select * from build.peer_benchmarks where peer_group is not null")
    assert rows and all(r["n_districts"] >= K_MIN for r in rows)


def test_yoy_trends_match_metrics_definitions(built):
    world, url = built
    _, _, yoy = expected_marts(world, LAST_DAY)
    rows = fetch(url, "select * from build.yoy_trends")
    actual = {(r["district_id"], r["metric"]): r for r in rows}
    assert_rows_match(actual, yoy, "yoy_trends")
    # as-of 29 Feb 2024: this span 1 Jul 2023 - 29 Feb 2024 (the prior one ends 28 Feb 2023)
    assert {(r["span_start"], r["span_end"]) for r in rows} == {
        (dt.date(2023, 7, 1), dt.date(2024, 2, 29))
    }
    spans = fetch(url, "select * from int.int_yoy_spans_resolved")
    assert spans == [
        {
            "school_year": 2024,
            "span_start": dt.date(2023, 7, 1),
            "span_end": dt.date(2024, 2, 29),
            "prior_span_start": dt.date(2022, 7, 1),
            "prior_span_end": dt.date(2023, 2, 28),
        }
    ]
    assert {r["direction"] for r in rows} >= {"improving", "declining", None}


def test_district_period_figures_are_the_scorecard_with_its_counts(built):
    """What a district exports: the scorecard's rows and figures for the calendar periods, the
    year-over-year spans besides, and counts that give back every share."""
    world, url = built
    scorecard, _, _ = expected_marts(world, LAST_DAY)
    rows = fetch(url, "select * from build.district_period_figures")
    calendar = {
        (r["district_id"], r["period_type"], r["period_start"]): r
        for r in rows
        if r["period_type"] in ("school_year", "month", "week")
    }
    assert_rows_match(calendar, scorecard, "district_period_figures")
    assert {r["period_type"] for r in rows} == {
        "school_year",
        "month",
        "week",
        "school_year_to_date",
        "prior_school_year_to_date",
    }
    for r in rows:
        if r["interactions"]:
            assert close(r["answered_share"], r["answered_interactions"] / r["interactions"])
            assert close(r["high_risk_share"], r["high_risk_interactions"] / r["interactions"])
        if r["sla_evaluated_interactions"]:
            assert close(
                r["sla_met_share"], r["sla_met_interactions"] / r["sla_evaluated_interactions"]
            )
        if r["rating_count"]:
            assert close(r["positive_share"], r["positive_ratings"] / r["rating_count"])
