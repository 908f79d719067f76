"""The unit marts (unit_scorecard, unit_rankings, unit_equity_gaps) against docs/metrics.md
"Below the district", on a hand-worked district of ten interactions.

The upstream relations (fct_interactions, fct_ratings, fct_daily_volume, dim_district in
`build`; the ref staging views as tables in `stg`; int_as_of) are plain tables; dbt builds the
district scorecard and the unit marts on top of them, with their data tests (the
reconciliation test among them), and n = 3 (var n_min_observations) so a unit "at n" and
"just below n" fit in a table a reader can check by hand:

    #   school  department      stakeholder  channel  language  minutes  rating
    1   S1      transportation  parent       web      en        10       5
    2   S1      transportation  parent       web      en        20       4
    3   S1      transportation  parent       email    es        60       2   (high-risk)
    4   S2      enrollment      parent       email    es        5
    5   S2      enrollment      student      email    es        5
    6   -       enrollment      staff        phone    en        20       3
    7   -       hr              staff        phone    en        40
    8   -       hr              staff        phone    unknown   50
    9   -       hr              community    phone    unknown   (unanswered)
    10  -       -               community    phone    unknown   15

S3 is configured (enrollment 100) and has no contact. Every interaction is created in the
week of Monday 1 September 2025; September has 22 service days (weekdays).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from schoolcx.warehouse.connect import url_parts

REPO = Path(__file__).resolve().parents[1]
DBT_PROJECT = REPO / "dbt_project"
DBT = Path(sys.executable).with_name("dbt")

N_MIN = 3
D = "1700001"
S1, S2, S3 = "170000100001", "170000100002", "170000100003"
AS_OF = dt.date(2025, 9, 30)
SCHOOL_YEAR = dt.date(2025, 7, 1)
MONTH = dt.date(2025, 9, 1)
WEEK = dt.date(2025, 9, 1)
MODELS = [
    "int_yoy_spans_resolved",
    "int_district_periods_aggregated",
    "district_scorecard",
    "unit_scorecard",
    "unit_rankings",
    "unit_equity_gaps",
]

# (school, department, stakeholder, channel, language, minutes or None, rating or None,
#  high_risk)
INTERACTIONS = [
    (S1, "transportation", "parent", "web", "en", 10, 5, False),
    (S1, "transportation", "parent", "web", "en", 20, 4, False),
    (S1, "transportation", "parent", "email", "es", 60, 2, True),
    (S2, "enrollment", "parent", "email", "es", 5, None, False),
    (S2, "enrollment", "student", "email", "es", 5, None, False),
    (None, "enrollment", "staff", "phone", "en", 20, 3, False),
    (None, "hr", "staff", "phone", "en", 40, None, False),
    (None, "hr", "staff", "phone", "unknown", 50, None, False),
    (None, "hr", "community", "phone", "unknown", None, None, False),
    (None, None, "community", "phone", "unknown", 15, None, False),
]

DDL = """
create schema if not exists build;
create schema if not exists stg;
create schema if not exists int;
drop table if exists build.dim_district, build.fct_daily_volume, build.fct_interactions,
    build.fct_ratings, build.fct_backlog_daily, stg.stg_ref__district_enrollment,
    stg.stg_ref__schools, stg.stg_ref__school_enrollment, int.int_as_of cascade;
create table build.dim_district (district_id text primary key);
create table build.fct_daily_volume (
    district_id text, local_date date, is_service_day boolean);
create table build.fct_interactions (
    interaction_key text primary key, district_id text, local_date date, high_risk boolean,
    first_response_at timestamptz, first_response_business_minutes numeric, sla_met boolean,
    school_id text, department text, stakeholder_type text, channel text, language text,
    -- the district figures' service-health inputs (docs/metrics.md "Service health"); the
    -- unit marts do not read them, the district scorecard they reconcile with does
    source_system text default 'zendesk', is_after_hours boolean default false,
    ever_solved boolean default false, reopened boolean default false,
    status text default 'open', one_touch boolean default false);
create table build.fct_backlog_daily (
    district_id text, local_date date, backlog int, past_due int);
create table build.fct_ratings (interaction_key text primary key, rating_1_5 numeric);
create table stg.stg_ref__district_enrollment (
    district_id text, school_year integer, enrollment integer);
create table stg.stg_ref__schools (school_id text, district_id text, school_name text);
create table stg.stg_ref__school_enrollment (
    school_id text, school_year integer, enrollment integer);
create table int.int_as_of (as_of_date date);
"""


def load(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(DDL)
        conn.execute("insert into build.dim_district values (%s)", (D,))
        conn.execute("insert into int.int_as_of values (%s)", (AS_OF,))
        conn.execute("insert into stg.stg_ref__district_enrollment values (%s, 2026, 1000)", (D,))
        for school, enrollment in ((S1, 500), (S2, 250), (S3, 100)):
            conn.execute(
                "insert into stg.stg_ref__schools values (%s, %s, %s)", (school, D, school[-1:])
            )
            conn.execute(
                "insert into stg.stg_ref__school_enrollment values (%s, 2026, %s)",
                (school, enrollment),
            )
        conn.execute(
            "insert into build.fct_daily_volume select %s, day::date, extract(isodow from day) < 6"
            " from generate_series(date '2025-09-01', date '2025-09-30', interval '1 day') day",
            (D,),
        )
        for i, (school, dept, who, channel, lang, minutes, rating, risk) in enumerate(
            INTERACTIONS, start=1
        ):
            local_date = WEEK + dt.timedelta(days=i % 5)
            answered = None if minutes is None else dt.datetime(2025, 9, 1, 15, tzinfo=dt.UTC)
            conn.execute(
                "insert into build.fct_interactions (interaction_key, district_id, local_date,"
                " high_risk, first_response_at, first_response_business_minutes, sla_met,"
                " school_id, department, stakeholder_type, channel, language) values"
                " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    f"i{i}",
                    D,
                    local_date,
                    risk,
                    answered,
                    minutes,
                    None if minutes is None else minutes <= 30,
                    school,
                    dept,
                    who,
                    channel,
                    lang,
                ),
            )
            if rating is not None:
                conn.execute("insert into build.fct_ratings values (%s, %s)", (f"i{i}", rating))


def dbt_build(url: str, work: Path, *extra: str) -> None:
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
    completed = subprocess.run(
        [
            str(DBT),
            "build",
            *extra,
            "--profiles-dir",
            str(DBT_PROJECT),
            "--project-dir",
            str(DBT_PROJECT),
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
            "--vars",
            json.dumps({"n_min_observations": N_MIN}),
            # the district models' own unit tests need their full inputs: test_dbt_benchmarks
            "--exclude-resource-type",
            "unit_test",
            "--select",
            *MODELS,
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
    load(module_warehouse)
    dbt_build(module_warehouse, tmp_path_factory.mktemp("dbt_unit_marts"))
    return module_warehouse


def fetch(url: str, query: str, params=()) -> list[dict]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(query, params).fetchall()


def scorecard(url: str, unit_type: str, period_type: str = "school_year") -> dict[str, dict]:
    rows = fetch(
        url,
        "select * from build.unit_scorecard where unit_type = %s and period_type = %s",
        (unit_type, period_type),
    )
    return {r["unit_key"]: r for r in rows}


def test_unit_at_n_has_figures_and_unit_below_n_only_counts(built):
    schools = scorecard(built, "school")
    at_n, below_n, quiet = schools[S1], schools[S2], schools[S3]
    # S1, 3 interactions = n: minutes 10, 20, 60 -> median 20; p90 at 0.9 * 2 = 1.8:
    # 20 + 0.8 * 40 = 52; ratings 5, 4, 2 -> 11 / 3 = 3.67, positive 2 / 3
    assert at_n["interactions"] == 3 and at_n["suppression_reason"] is None
    assert at_n["median_first_response_business_minutes"] == 20
    assert at_n["p90_first_response_business_minutes"] == 52
    assert at_n["answered_share"] == 1 and math.isclose(at_n["sla_met_share"], 2 / 3)
    assert math.isclose(at_n["high_risk_share"], 1 / 3)
    assert at_n["feedback_score"] == Decimal("3.67") and at_n["rating_count"] == 3
    # volume: 3 * 1000 / 22 service days / 500 students
    assert math.isclose(at_n["interactions_per_1000_students_per_service_day"], 3000 / 22 / 500)
    assert at_n["enrollment"] == 500 and at_n["service_days"] == 22
    # S2, 2 interactions: its count and volume, no figure
    assert below_n["interactions"] == 2 and below_n["suppression_reason"] == "unit_below_n"
    assert below_n["median_first_response_business_minutes"] is None
    assert below_n["answered_share"] is None and below_n["feedback_score"] is None
    assert math.isclose(below_n["interactions_per_1000_students_per_service_day"], 2000 / 22 / 250)
    # S3 configured, no contact: a row of zeros, not a missing school
    assert quiet["interactions"] == 0 and quiet["suppression_reason"] == "unit_below_n"
    assert quiet["interactions_per_1000_students_per_service_day"] == 0
    # the remainder (central office: no school) is a row, not a unit
    assert schools["(unmapped)"]["interactions"] == 5 and schools["(unmapped)"]["is_unmapped"]
    assert schools["(unmapped)"]["share_of_district_interactions"] == Decimal("0.5")
    # a department with 3 interactions but 1 rating keeps its times, loses its feedback
    departments = scorecard(built, "department")
    assert departments["enrollment"]["suppression_reason"] == "ratings_below_n"
    assert departments["enrollment"]["median_first_response_business_minutes"] == 5
    assert departments["enrollment"]["feedback_score"] is None


def test_unit_totals_reconcile_to_the_district(built):
    district = {
        (r["period_type"], r["period_start"]): r
        for r in fetch(built, "select * from build.district_scorecard where interactions > 0")
    }
    assert district[("school_year", SCHOOL_YEAR)]["interactions"] == 10
    totals = fetch(
        built,
        "select unit_type, period_type, period_start, sum(interactions) as n,"
        " sum(rating_count) as ratings from build.unit_scorecard group by 1, 2, 3",
    )
    assert len(totals) == 5 * len(district)  # every type in every period with contacts
    for row in totals:
        whole = district[(row["period_type"], row["period_start"])]
        assert (row["n"], row["ratings"]) == (whole["interactions"], whole["rating_count"]), row
    assert {(r["period_type"], r["period_start"]) for r in totals} == {
        ("school_year", SCHOOL_YEAR),
        ("month", MONTH),
        ("week", WEEK),
    }


def ranking(url: str, unit_type: str, metric: str) -> dict[str, dict]:
    rows = fetch(
        url,
        "select * from build.unit_rankings where unit_type = %s and metric = %s"
        " and period_type = 'school_year'",
        (unit_type, metric),
    )
    return {r["unit_key"]: r for r in rows}


def test_ranking_ties_are_not_worse_and_units_under_n_are_not_ranked(built):
    # answered share: transportation 3/3, enrollment 3/3, hr 2/3 (n = 3 each); the district
    # answered 9 of 10. Higher is better; a tie is not worse.
    answered = ranking(built, "department", "answered_share")
    assert "(unmapped)" not in answered
    assert {k: r["percentile_rank"] for k, r in answered.items()} == {
        "transportation": Decimal("0.5"),
        "enrollment": Decimal("0.5"),
        "hr": 0,
    }
    assert all(
        r["n_units"] == 3 and r["district_value"] == Decimal("0.9") for r in answered.values()
    )
    assert math.isclose(answered["hr"]["delta_from_district"], 2 / 3 - 0.9)
    # median first response, lower is better: enrollment 5, transportation 20, hr (40, 50) 45;
    # the district's median of its nine answered: 20
    median = ranking(built, "department", "median_first_response_business_minutes")
    assert {k: r["percentile_rank"] for k, r in median.items()} == {
        "enrollment": 1,
        "transportation": Decimal("0.5"),
        "hr": 0,
    }
    assert median["hr"]["unit_value"] == 45 and median["hr"]["district_value"] == 20
    # schools: S1 alone qualifies (no other to rank against), S2 and S3 shown with their count
    schools = ranking(built, "school", "median_first_response_business_minutes")
    assert schools[S1]["n_units"] == 1 and schools[S1]["percentile_rank"] is None
    assert schools[S1]["unit_value"] == 20 and schools[S1]["suppression_reason"] is None
    assert (schools[S2]["observations"], schools[S2]["suppression_reason"]) == (2, "unit_below_n")
    assert schools[S2]["unit_value"] is None and schools[S2]["percentile_rank"] is None
    assert schools[S3]["observations"] == 0
    # volume has no direction: no rank, but the value beside the district's
    volume = ranking(built, "school", "interactions_per_1000_students_per_service_day")
    assert volume[S1]["percentile_rank"] is None
    assert math.isclose(volume[S1]["district_value"], 10 * 1000 / 22 / 1000)
    # volume per student is for schools only
    assert not ranking(built, "department", "interactions_per_1000_students_per_service_day")


def test_equity_gap_against_the_largest_group(built):
    rows = fetch(
        built,
        "select * from build.unit_equity_gaps where period_type = 'school_year'",
    )
    gaps = {(r["unit_type"], r["unit_key"], r["metric"]): r for r in rows}
    fr = "median_first_response_business_minutes"
    # stakeholder type: parent is the largest group (4); its answered minutes 10, 20, 60, 5
    # -> median 15. Staff (3) waited 20, 40, 50 -> 40: gap +25.
    staff = gaps[("stakeholder_type", "staff", fr)]
    assert staff["reference_key"] == "parent" and staff["reference_value"] == 15
    assert staff["group_value"] == 40 and staff["gap"] == 25 and staff["suppression_reason"] is None
    assert gaps[("stakeholder_type", "parent", fr)]["is_reference"]
    assert gaps[("stakeholder_type", "parent", fr)]["gap"] == 0
    # student (1) and community (2) are under n: no gap
    assert gaps[("stakeholder_type", "student", fr)]["gap"] is None
    assert gaps[("stakeholder_type", "student", fr)]["suppression_reason"] == "unit_below_n"
    # feedback: parent rated 5, 4, 2 -> 3.67; staff has one rating: under n
    feedback = gaps[("stakeholder_type", "staff", "feedback_score")]
    assert feedback["reference_value"] == Decimal("3.67")
    assert (feedback["observations"], feedback["gap"]) == (1, None)
    # language: en is the largest (4; unknown has 3 and is never the reference); en waited
    # 10, 20, 20, 40 -> 20; es 60, 5, 5 -> 5: gap -15; unknown 50, 15 (one unanswered) ->
    # 32.5: gap +12.5
    assert gaps[("language", "es", fr)]["reference_key"] == "en"
    assert gaps[("language", "es", fr)]["gap"] == -15
    assert gaps[("language", "unknown", fr)]["gap"] == Decimal("12.5")
    # the language feedback gap: en has ratings 5, 4, 3 (3 = n) -> 4; es one rating: under n
    assert gaps[("language", "en", "feedback_score")]["group_value"] == 4
    assert gaps[("language", "es", "feedback_score")]["suppression_reason"] == "unit_below_n"
