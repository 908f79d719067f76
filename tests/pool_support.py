"""Small hand-made marts for the pooling tests (fast: no dbt, no demo world), and helpers to
alter a written extract the way a forger, a buggy exporter or a broken disk would."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import psycopg

from schoolcx.config import DeploymentConfig
from schoolcx.connections import connection_json
from schoolcx.pooling import files, layout
from schoolcx.pooling.manifest import MANIFEST, SIGNATURE, manifest_bytes, sha256, sign

CONSORTIUM = "il-scc"
# Three districts of the consortium in one deployment: 1700003 is not on the hub's roster.
DISTRICTS = {
    "1700001": ("Lincoln CUSD", 1800),
    "1700002": ("Prairie View SD", 7300),
    "1700003": ("Oak Ridge USD", 30500),
}
AS_OF = dt.date(2025, 11, 14)


def key_for(district_id: str) -> str:
    return f"pool-key-{district_id}-not-a-real-secret"


def set_keys(monkeypatch, district_ids=DISTRICTS) -> None:
    """The pooling keys, set the way a user sets any connection (AIRFLOW_CONN_*)."""
    for district_id in district_ids:
        monkeypatch.setenv(
            f"AIRFLOW_CONN_SCHOOLCX_POOL_{district_id}",
            connection_json("generic", "", password=key_for(district_id)),
        )


def deployment_config(district_ids=DISTRICTS) -> DeploymentConfig:
    return DeploymentConfig.model_validate(
        {
            "name": "pool-test",
            "consortiums": [{"consortium_id": CONSORTIUM, "name": "Suburban Consortium"}],
            "districts": [
                {
                    "district_id": d,
                    "name": DISTRICTS[d][0],
                    "state": "IL",
                    "timezone": "America/Chicago",
                    "enrollment": {2026: DISTRICTS[d][1]},
                    "consortium_ids": [CONSORTIUM],
                }
                for d in district_ids
            ],
        }
    )


def hub_yaml(tmp_path: Path, districts: list[str], inbox: str, outbox: str) -> Path:
    path = tmp_path / "hub.yml"
    path.write_text(
        json.dumps(  # JSON is YAML
            {
                "consortium_id": CONSORTIUM,
                "name": "Suburban Consortium hub",
                "districts": districts,
                "k": 3,
                "n": 10,
                "inbox": inbox,
                "outbox": outbox,
            }
        )
    )
    return path


# marts.district_period_figures as the contract gives it: pool.district_period_figures minus
# extract_id. Figures computed from the counts the way int_district_periods_aggregated does
# (numeric division, trim_scale), so they carry long and varying scales.
_FIGURES_TABLE = """
create table marts.district_period_figures (like pool.district_period_figures);
alter table marts.district_period_figures drop column extract_id;
"""
_FIGURES = """
insert into marts.district_period_figures
with periods as (
    select 'school_year' as period_type, date '2025-07-01' as period_start,
        date '2026-06-30' as period_end, 95 as service_days
    union all
    select 'school_year', date '2024-07-01', date '2025-06-30', 180
    union all
    select 'school_year_to_date', date '2025-07-01', %(as_of)s, 95
    union all
    select 'prior_school_year_to_date', date '2024-07-01', %(as_of)s - 365, 94
    union all
    select 'month', m::date, (m + interval '1 month - 1 day')::date, 21
    from generate_series(date '2024-07-01', date '2025-11-01', interval '1 month') as m
    union all
    select 'week', w::date, w::date + 6, 5
    from generate_series(date '2025-06-30', %(as_of)s - 4, interval '1 week') as w
),
counts as (
    select d.district_id, d.enrollment, p.*,
        (abs(hashtext(d.district_id || p.period_type || p.period_start)) %% 400)
            * (case when p.period_start = date '2025-08-04' and d.district_id = '1700002'
               then 0 else 1 end) as n
    from marts.dim_district as d cross join periods as p
)
select district_id, period_type, period_start, period_end, enrollment, service_days,
    n as interactions,
    n / 7 as high_risk_interactions,
    n * 9 / 10 as answered_interactions,
    n * 8 / 10 as sla_evaluated_interactions,
    n * 2 / 3 as sla_met_interactions,
    n / 3 as rating_count,
    n / 5 as positive_ratings,
    n::numeric * 1000 / nullif(service_days, 0) / nullif(enrollment, 0),
    trim_scale((n / 7)::numeric / nullif(n, 0)),
    trim_scale((n * 9 / 10)::numeric / nullif(n, 0)),
    case when n * 9 / 10 > 0 then (n %% 97 + 0.5)::float8::numeric end,
    case when n * 9 / 10 > 0 then (n %% 97 + 120.125)::float8::numeric end,
    trim_scale((n * 2 / 3)::numeric / nullif(n * 8 / 10, 0)),
    case when n / 3 > 0 then round(1 + (n %% 400)::numeric / 100, 2) end,
    trim_scale((n / 5)::numeric / nullif(n / 3, 0)),
    -- service health (migration 0022)
    n / 4, n / 2, n / 20, n * 4 / 10, n / 5, n / 10, n / 40,
    trim_scale((n / 4)::numeric / nullif(n, 0)),
    trim_scale((n / 20)::numeric / nullif(n / 2, 0)),
    trim_scale((n / 5)::numeric / nullif(n * 4 / 10, 0))
from counts
"""

_MARTS = """
create table marts.dim_district (
    district_id text, name text, state text, timezone text, enrollment integer,
    enrollment_band text, consortium_ids text[], service_day_minutes numeric
);
create table marts.fct_survey_item_results (
    district_id text, school_year integer, item_code text, valid_answers integer,
    agree_answers integer, percent_agree numeric
);
"""


def build_district_marts(url: str, as_of: dt.date = AS_OF, district_ids=DISTRICTS) -> None:
    """A published district deployment: dim_district, district_period_figures, survey items,
    and the publish that made them (ops.publish_log)."""
    with psycopg.connect(url) as conn:
        conn.execute(_MARTS)
        for d in district_ids:
            conn.execute(
                "insert into marts.dim_district values (%s, %s, 'IL', 'America/Chicago', %s,"
                " 'band', %s, 540)",
                (d, DISTRICTS[d][0], DISTRICTS[d][1], [CONSORTIUM]),
            )
        conn.execute(_FIGURES_TABLE)
        conn.execute(_FIGURES, {"as_of": as_of})
        conn.execute(
            "insert into marts.fct_survey_item_results select d.district_id, y, item,"
            " 40 + length(item) * y % 50, 11 + y % 17, 100.0 * (11 + y % 17)"
            " / (40 + length(item) * y % 50) from marts.dim_district as d,"
            " unnest(array[2025, 2026]) as y,"
            " unnest(array['safe_at_school', 'staff_respond', 'clear_info']) as item"
        )
        conn.execute(
            "insert into ops.publish_log (run_id, published, gate_passed, as_of_date)"
            " values ('test-night', true, true, %s)",
            (as_of,),
        )


def republish(url: str, as_of: dt.date) -> None:
    """A later night: the same marts published as of a later date."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "insert into ops.publish_log (run_id, published, gate_passed, as_of_date)"
            " values (%s, true, true, %s)",
            (f"night-{as_of}", as_of),
        )


POOL_TABLES = ("districts", "district_period_figures", "survey_item_results")


def pool_checksums(url: str) -> dict[str, tuple[int, str]]:
    from schoolcx.publish.checksum import relation_checksum

    with psycopg.connect(url) as conn:
        return {t: relation_checksum(conn, "pool", t) for t in POOL_TABLES}


def reseal(
    folder: str,
    key: str | None,
    edit_rows: dict | None = None,
    edit_manifest=None,
) -> None:
    """Rewrite an extract folder: edit_rows {file: f(rows) -> rows} re-encodes those files and
    updates their checksums and counts; edit_manifest(manifest) edits the manifest. Signed
    again with key (None: the old signature is kept, as a forger without the key must)."""
    path = Path(folder.removeprefix("file://"))
    manifest = json.loads((path / MANIFEST).read_text())
    expected = {**layout.EXTRACT_FILES, **layout.RETURN_FILES}
    for name, edit in (edit_rows or {}).items():
        rows = files.decode((path / name).read_bytes(), expected[name])
        rows = edit(rows)
        data = files.encode(rows, expected[name])
        (path / name).write_bytes(data)
        manifest["files"][name] = sha256(data)
        manifest["row_counts"][name] = len(rows)
    if edit_manifest:
        edit_manifest(manifest)
    body = manifest_bytes(manifest)
    (path / MANIFEST).write_bytes(body)
    if key is not None:
        (path / SIGNATURE).write_text(sign(body, key.encode()))


HUB_ROSTER = [f"17000{i:02d}" for i in range(1, 8)]  # 1700007 is benchmarked in no row

_HUB_MARTS = """
create table marts.peer_benchmarks (
    district_id text, metric text, period_type text, period_start date, peer_group text,
    peer_group_key text, n_districts integer, district_value numeric, peer_p25 numeric,
    peer_median numeric, peer_p75 numeric, percentile_rank numeric, delta_from_median numeric,
    suppression_reason text
);
create table marts.yoy_trends (
    district_id text, metric text, school_year integer, span_start date, span_end date,
    current_value numeric, prior_value numeric, change numeric, pct_change numeric,
    direction text
);
"""

# Six districts' own values, distinct from each other; the peer columns aggregate them.
_HUB_PEERS = """
insert into marts.peer_benchmarks
with own as (
    select 'd' || d as district_id, d, m.metric, p.period_type, p.period_start,
        round(10 + d * 3.17 + m.k * 0.41 + p.j * 1.3, 4) as v
    from generate_series(1, 6) as d,
        (values ('answered_share', 1), ('feedback_score', 2)) as m (metric, k),
        (values ('month', date '2025-10-01', 1), ('school_year', date '2025-07-01', 2))
            as p (period_type, period_start, j)
),
stats as (
    select metric, period_type, period_start, count(*)::integer as n,
        percentile_cont(0.25) within group (order by v)::numeric as p25,
        percentile_cont(0.5) within group (order by v)::numeric as p50,
        percentile_cont(0.75) within group (order by v)::numeric as p75
    from own group by metric, period_type, period_start
)
select '17000' || lpad(o.d::text, 2, '0'), o.metric, o.period_type, o.period_start,
    'consortium', 'il-scc', s.n, o.v, s.p25, s.p50, s.p75,
    (select count(*) from own x where x.metric = o.metric and x.period_type = o.period_type
        and x.v < o.v)::numeric / (s.n - 1),
    o.v - s.p50, null
from own o join stats s using (metric, period_type, period_start)
"""

_HUB_YOY = """
insert into marts.yoy_trends
select district_id, metric, 2026, date '2025-07-01', date '2025-11-14', district_value,
    district_value - 1, 1, round(1 / (district_value - 1) * 100, 6), 'improving'
from marts.peer_benchmarks where period_type = 'school_year'
"""


def build_hub_marts(url: str, as_of: dt.date = AS_OF) -> None:
    """A hub whose benchmarks are published: peer_benchmarks and yoy_trends of six members."""
    with psycopg.connect(url) as conn:
        conn.execute(_HUB_MARTS)
        conn.execute(_HUB_PEERS)
        conn.execute(_HUB_YOY)
        conn.execute(
            "insert into ops.publish_log (run_id, published, gate_passed, as_of_date)"
            " values ('hub-night', true, true, %s)",
            (as_of,),
        )
