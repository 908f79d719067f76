"""A consortium hub's pooled benchmarks equal a single warehouse's on the same districts.

The single warehouse is test_dbt_benchmarks' world (a few dozen districts over two school
years, exercising every peer level, suppression and year-over-year branch) built by dbt the
normal way (benchmark_input 'local'). The hub is a SEPARATE database: its pool.* tables are
loaded from the single warehouse's marts a district exports (district_period_figures,
dim_district, fct_survey_item_results), the way `schoolcx pool import` loads an extract's
files (the file round trip is the importer's test), and build_and_publish runs dbt in pooled
mode, the gate and write-audit-publish there. peer_benchmarks and yoy_trends must be equal row
for row: EXCEPT ALL both ways is empty.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

import psycopg
import pytest

from schoolcx.paths import EXPECTATIONS_DIR
from tests.conftest import _fresh_database
from tests.test_dbt_benchmarks import BENCHMARK_MODELS, LAST_DAY, dbt_build, load_world, make_world

EXTRACT_ID = "single-warehouse-extract"
# what a district sends (the contract of migration 0013 with the published marts)
POOL_LOADS = {
    "pool.districts": (
        "select district_id, name, state, timezone, consortium_ids, %(extract)s"
        " from build.dim_district"
    ),
    "pool.district_period_figures": (
        "select district_id, period_type, period_start, period_end, enrollment, service_days,"
        " interactions, high_risk_interactions, answered_interactions,"
        " sla_evaluated_interactions, sla_met_interactions, rating_count, positive_ratings,"
        " interactions_per_1000_students_per_service_day, high_risk_share, answered_share,"
        " median_first_response_business_minutes, p90_first_response_business_minutes,"
        " sla_met_share, feedback_score, positive_share, %(extract)s,"
        # migration 0022's columns, appended after extract_id
        " after_hours_interactions, ever_solved_tickets, reopened_tickets, solved_tickets,"
        " one_touch_tickets, backlog_end, past_due_end, after_hours_share, reopen_rate,"
        " one_touch_share"
        " from build.district_period_figures"
    ),
    "pool.survey_item_results": (
        "select district_id, school_year, item_code, valid_answers, agree_answers,"
        " percent_agree, %(extract)s from build.fct_survey_item_results"
    ),
}
COMPARED = ("peer_benchmarks", "yoy_trends")


@dataclass(frozen=True)
class Hub:
    """The hub config's fields the build reads (schoolcx.pooling.hub_config.HubConfig)."""

    consortium_id: str = "test-consortium"
    k: int = 5
    n: int = 30


def copy_query(src: str, query: str, dst: str, table: str) -> None:
    """Rows of `query` in database `src` into `table` of database `dst` (COPY, text: every
    numeric exactly as PostgreSQL wrote it)."""
    with (
        psycopg.connect(src) as s,
        psycopg.connect(dst) as d,
        s.cursor().copy(f"copy ({query}) to stdout") as out,
        d.cursor().copy(f"copy {table} from stdin") as into,
    ):
        for chunk in out:
            into.write(chunk)


@pytest.fixture(scope="module")
def single(module_warehouse, tmp_path_factory):
    """The single warehouse: every district's data in one place, benchmarks built locally."""
    load_world(module_warehouse, make_world(), LAST_DAY)
    dbt_build(module_warehouse, tmp_path_factory.mktemp("dbt_single"), BENCHMARK_MODELS)
    return module_warehouse


@pytest.fixture(scope="module")
def hub_url(pg_server, single):
    """A separate, empty hub database whose pool holds what each district exported."""
    url = _fresh_database(pg_server)
    from schoolcx.warehouse import migrate

    migrate(url)
    for table, query in POOL_LOADS.items():
        copy_query(single, query.replace("%(extract)s", f"'{EXTRACT_ID}'"), url, table)
    return url


@pytest.fixture(scope="module")
def hub_run(hub_url, tmp_path_factory):
    """Runs build_and_publish at the hub; each call its own GX folder and dbt target."""
    from schoolcx.pooling.hub_build import build_and_publish

    def run(hub: Hub, run_id: str) -> dict:
        root = tmp_path_factory.mktemp("gx")
        shutil.copy(EXPECTATIONS_DIR / "great_expectations.yml", root / "great_expectations.yml")
        return build_and_publish(
            hub_url,
            hub,
            run_id=run_id,
            context_dir=root,
            data_docs_dir=root / "docs",
            dbt_target_dir=tmp_path_factory.mktemp("dbt_hub"),
        )

    return run


@pytest.fixture(scope="module")
def published(hub_url, hub_run):
    return hub_run(Hub(), "hub-equality")


def one(url: str, sql: str, *params):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchone()


def test_pooled_benchmarks_equal_the_single_warehouse(single, hub_url, published):
    # the single warehouse's marts, copied beside the hub's so EXCEPT ALL can compare them
    with psycopg.connect(hub_url) as conn:
        conn.execute("create schema single_warehouse")
        for mart in COMPARED:
            conn.execute(f"create table single_warehouse.{mart} (like marts.{mart})")
    for mart in COMPARED:
        copy_query(single, f"select * from build.{mart}", hub_url, f"single_warehouse.{mart}")

    for mart in COMPARED:
        total = one(hub_url, f"select count(*) from marts.{mart}")[0]
        assert total > 0 and total == one(single, f"select count(*) from build.{mart}")[0]
        only_hub = one(
            hub_url,
            f"select count(*) from (select * from marts.{mart}"
            f" except all select * from single_warehouse.{mart}) d",
        )[0]
        only_single = one(
            hub_url,
            f"select count(*) from (select * from single_warehouse.{mart}"
            f" except all select * from marts.{mart}) d",
        )[0]
        assert (only_hub, only_single) == (0, 0), mart

    # the comparison has teeth: peer statistics published at several levels, suppressed rows,
    # trends with a change
    with psycopg.connect(hub_url) as conn:
        levels = {
            r[0]
            for r in conn.execute(
                "select distinct coalesce(peer_group, suppression_reason)"
                " from marts.peer_benchmarks"
            )
        }
    assert {"consortium_and_enrollment_band", "all_districts", "no_peer_group_meets_k"} <= levels
    assert one(hub_url, "select count(*) from marts.yoy_trends where change is not null")[0] > 0
    for mart in COMPARED:
        assert published[mart] == one(hub_url, f"select count(*) from marts.{mart}")[0]


def test_hub_publishes_through_the_gate_and_never_reads_district_models(hub_url, published):
    # the hub built only its models: no staging, no facts, no district figures of its own
    with psycopg.connect(hub_url) as conn:
        built = {
            r[0]
            for r in conn.execute(
                "select table_schema || '.' || table_name from information_schema.tables"
                " where table_schema in ('stg', 'int', 'build', 'marts')"
            )
        }
        gate = conn.execute(
            "select count(*), count(*) filter (where passed), array_agg(distinct relation)"
            " from ops.gate_results where run_id = 'hub-equality'"
        ).fetchone()
        log = conn.execute(
            "select published, gate_passed, as_of_date, row_counts from ops.publish_log"
            " where run_id = 'hub-equality'"
        ).fetchone()
        districts = conn.execute(
            "select count(*), count(service_day_minutes) from marts.dim_district"
        ).fetchone()
    assert built == {
        "int.int_benchmark_district_periods",
        "int.int_benchmark_survey_items",
        "int.int_benchmark_yoy_spans",
        "int.int_benchmark_metric_values",
        "build.dim_district",
        "build.peer_benchmarks",
        "build.yoy_trends",
        "marts.dim_district",
        "marts.peer_benchmarks",
        "marts.yoy_trends",
    }
    assert gate[0] > 5 and gate[0] == gate[1]
    assert set(gate[2]) == {"build.dim_district", "build.peer_benchmarks", "build.yoy_trends"}
    assert log[:3] == (True, True, LAST_DAY)
    assert set(log[3]) == {"dim_district", "peer_benchmarks", "yoy_trends"}
    # every pooled district is in the hub's dim_district; a hub knows no service calendar
    pooled = one(hub_url, "select count(*) from pool.districts")[0]
    assert districts == (pooled, 0) and published["dim_district"] == pooled


def test_k_and_n_of_the_hub_config_take_effect(hub_url, hub_run, published):
    pooled = one(hub_url, "select count(*) from pool.districts")[0]
    counts = hub_run(Hub(k=pooled + 1), "hub-k-above-districts")
    reasons = one(
        hub_url,
        "select count(*), count(*) filter (where suppression_reason = 'no_peer_group_meets_k'"
        " and peer_median is null and n_districts is null) from marts.peer_benchmarks",
    )
    assert reasons[0] > 0 and reasons == (reasons[0], reasons[0])
    assert counts["suppressed_peer_rows"] == reasons[0]

    hub_run(Hub(n=10**9), "hub-n-above-observations")
    trends = one(
        hub_url,
        "select count(*), count(change), count(direction), count(current_value)"
        " from marts.yoy_trends",
    )
    # no span meets n: the values are shown, no change or direction is
    assert trends[3] > 0 and trends[1:3] == (0, 0)
    assert one(
        hub_url,
        "select count(*) from marts.peer_benchmarks where suppression_reason is null",
    ) == (0,)


def test_nothing_pooled_is_said_plainly(pg_server):
    from schoolcx.pooling.hub_build import NothingPooled, build_and_publish
    from schoolcx.warehouse import migrate

    url = _fresh_database(pg_server)
    migrate(url)
    with pytest.raises(NothingPooled, match="import extracts first"):
        build_and_publish(url, Hub())


def test_a_districts_older_spans_in_the_pool_do_not_enter_year_over_year(
    single, hub_url, hub_run, published
):
    # A newer extract replaces a district's rows period by period, so the to-date spans of an
    # earlier school year stay pooled beside the new ones (other period_start). Year over year
    # must compare the latest span with the one a year before it, as the district itself did.
    with psycopg.connect(hub_url) as conn:
        district = conn.execute(
            "select min(district_id) from pool.district_period_figures"
            " where period_type = 'prior_school_year_to_date'"
        ).fetchone()[0]
        conn.execute(
            "insert into pool.district_period_figures"
            " select district_id, period_type, (period_start - interval '1 year')::date,"
            " (period_end - interval '1 year')::date, enrollment, service_days,"
            " interactions * 3, high_risk_interactions, answered_interactions,"
            " sla_evaluated_interactions, sla_met_interactions, rating_count * 3,"
            " positive_ratings, interactions_per_1000_students_per_service_day * 7,"
            " high_risk_share, answered_share / 2, median_first_response_business_minutes * 5,"
            " p90_first_response_business_minutes, sla_met_share, feedback_score - 1,"
            " positive_share, 'an-older-extract'"
            " from pool.district_period_figures"
            " where district_id = %s"
            " and period_type in ('school_year_to_date', 'prior_school_year_to_date')",
            (district,),
        )
    hub_run(Hub(), "hub-older-spans-pooled")
    only_hub = one(
        hub_url,
        "select count(*) from (select * from marts.yoy_trends"
        " except all select * from single_warehouse.yoy_trends) d",
    )[0]
    only_single = one(
        hub_url,
        "select count(*) from (select * from single_warehouse.yoy_trends"
        " except all select * from marts.yoy_trends) d",
    )[0]
    assert (only_hub, only_single) == (0, 0)
    assert one(
        hub_url,
        "select count(*) from pool.district_period_figures where district_id = %s"
        " and period_type = 'school_year_to_date'",
        district,
    ) == (2,)
