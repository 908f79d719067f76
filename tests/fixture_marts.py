"""A small, internally consistent night of built marts in `build`, without dbt.

`build_night(url, night)` (re)creates every mart of the contract with deterministic data for
`DISTRICTS` districts over the service days up to the night's last date; night n covers one
more day than night n-1, so counts grow like a real nightly run. `seed_sources` registers one
source per district with a fresh successful extract, so the freshness check passes.

Consistency a reader can check across marts of one night: count(fct_interactions) =
sum(fct_daily_volume.interactions) = sum(district_scorecard.interactions), and every mart's
last date is the night's last date.
"""

from __future__ import annotations

import datetime as dt

import psycopg

from schoolcx.config import DeploymentConfig

DISTRICTS = 6
FIRST_DATE = dt.date(2025, 9, 1)  # a Monday in school year 2026
BASE_DAYS = 30
LAG_OK_HOURS = 2

DDL = """
drop table if exists build.dim_district, build.fct_interactions, build.fct_ratings,
    build.fct_daily_volume, build.fct_survey_item_results, build.district_scorecard,
    build.peer_benchmarks, build.yoy_trends, build.district_period_figures,
    build.unit_scorecard, build.unit_rankings, build.unit_equity_gaps,
    build.vendor_reconciliation, build.dim_school, build.dim_department,
    build.unit_mapping_coverage, build.fct_backlog_daily, build.rating_drivers;
create table build.dim_school (
    school_id text, district_id text, name text, enrollment_school_year int, enrollment int);
create table build.dim_department (district_id text, department text, label text);
create table build.unit_mapping_coverage (
    district_id text, source_instance text, source_system text, school_year int,
    unit_type text, interactions int, unmapped_interactions int, unmapped_share numeric);
create table build.fct_backlog_daily (
    district_id text, local_date date, day_end_at timestamptz, backlog int, past_due int,
    past_due_by_target int, past_due_by_age int, aged_under_1 int, aged_1_2 int, aged_2_5 int,
    aged_5_10 int, aged_10_plus int, oldest_age_service_days numeric)
    partition by range (local_date);
create table build.fct_backlog_daily_y2026 partition of build.fct_backlog_daily
    for values from ('2025-07-01') to ('2026-07-01');
create table build.rating_drivers (
    district_id text, school_year int, response_bucket text, bucket_order int,
    rating_count int, feedback_score numeric, positive_share numeric,
    suppressed_below_n boolean, spearman_n int, spearman_rho numeric);
create table build.dim_district (
    district_id text, name text, state text, timezone text, enrollment int,
    enrollment_band text, consortium_ids text[]);
create table build.fct_daily_volume (
    district_id text, local_date date, is_service_day boolean, interactions int,
    high_risk_interactions int, enrollment int, interactions_per_1000_students numeric);
create table build.fct_interactions (
    interaction_key text, district_id text, source_system text, channel text, topic text,
    priority text, high_risk boolean, requester_hash text, created_at timestamptz,
    local_date date, school_year int, first_response_at timestamptz, resolved_at timestamptz,
    first_response_business_minutes numeric, first_response_calendar_minutes numeric,
    resolution_business_minutes numeric, resolution_calendar_minutes numeric,
    sla_target_minutes numeric, sla_met boolean, school_id text, department text,
    stakeholder_type text, language text, source_instance text, is_after_hours boolean,
    reopened boolean, agent_response_count int, high_risk_term text)
    partition by range (local_date);
-- partitioned by school year like dbt builds them (macros/partitioned.sql)
create table build.fct_interactions_y2026 partition of build.fct_interactions
    for values from ('2025-07-01') to ('2026-07-01');
create table build.fct_ratings (
    interaction_key text, district_id text, rated_at timestamptz, rating_value numeric,
    rating_scale text, rating_1_5 numeric);
create table build.fct_survey_item_results (
    district_id text, school_year int, item_code text, valid_answers int, agree_answers int,
    percent_agree numeric);
create table build.district_scorecard (
    district_id text, period_type text, period_start date, period_end date,
    interactions bigint, service_days bigint,
    interactions_per_1000_students_per_service_day numeric, high_risk_share numeric,
    answered_share numeric, median_first_response_business_minutes numeric,
    p90_first_response_business_minutes numeric, sla_met_share numeric,
    feedback_score numeric, positive_share numeric, rating_count bigint);
create table build.district_period_figures (
    district_id text, period_type text, period_start date, period_end date, enrollment int,
    service_days int, interactions int, high_risk_interactions int, answered_interactions int,
    sla_evaluated_interactions int, sla_met_interactions int, rating_count int,
    positive_ratings int, interactions_per_1000_students_per_service_day numeric,
    high_risk_share numeric, answered_share numeric,
    median_first_response_business_minutes numeric,
    p90_first_response_business_minutes numeric, sla_met_share numeric,
    feedback_score numeric, positive_share numeric);
create table build.peer_benchmarks (
    district_id text, metric text, period_type text, period_start date, peer_group text,
    peer_group_key text, n_districts int, district_value numeric, peer_p25 numeric,
    peer_median numeric, peer_p75 numeric, percentile_rank numeric, delta_from_median numeric,
    suppression_reason text);
create table build.yoy_trends (
    district_id text, metric text, school_year int, span_start date, span_end date,
    current_value numeric, prior_value numeric, change numeric, pct_change numeric,
    direction text);
create table build.unit_scorecard (
    district_id text, unit_type text, unit_key text, is_unmapped boolean, period_type text,
    period_start date, enrollment int, interactions int, district_interactions int,
    share_of_district_interactions numeric,
    interactions_per_1000_students_per_service_day numeric,
    median_first_response_business_minutes numeric, sla_met_share numeric,
    feedback_score numeric, rating_count int, suppression_reason text);
create table build.unit_rankings (
    district_id text, unit_type text, unit_key text, metric text, period_type text,
    period_start date, observations int, unit_value numeric, n_units int,
    percentile_rank numeric, district_value numeric, suppression_reason text);
create table build.unit_equity_gaps (
    district_id text, unit_type text, unit_key text, metric text, period_type text,
    period_start date, reference_key text, observations int, gap numeric,
    suppression_reason text);

create table build.vendor_reconciliation (
    district_id text, source_system text, source_instance text, period_type text,
    period_start date, period_end date, vendor_figure text, compared_count int,
    ours_only_count int, vendor_only_count int, equal_within_one_minute_share numeric,
    median_abs_difference_minutes numeric, p95_abs_difference_minutes numeric,
    median_difference_minutes numeric, closure_spanning_count int,
    different_first_reply_count int, district_closure_count int,
    business_hours_differ_count int, main_reason text);
"""

FILL = """
insert into build.dim_district
select '48' || lpad(d::text, 5, '0'), 'District ' || d, 'TX', 'America/Chicago', 1500 * d,
       case when 1500 * d < 2500 then 'under_2500' when 1500 * d < 5000 then '2500_4999'
            else '5000_9999' end,
       array['tx_central']
from generate_series(1, %(districts)s) d;

insert into build.fct_daily_volume
select dd.district_id, day::date, extract(isodow from day) < 6,
       case when extract(isodow from day) < 6
            then 6 + ((dd.i * 7 + (day::date - %(first)s::date) * 3) %% 9) else 0 end,
       0, dd.enrollment, 0
from (select district_id, enrollment, row_number() over (order by district_id) as i
      from build.dim_district) dd
cross join generate_series(%(first)s::date, %(last)s::date, interval '1 day') day;
update build.fct_daily_volume
set high_risk_interactions = interactions / 5,
    interactions_per_1000_students = round(interactions * 1000.0 / enrollment, 4);

insert into build.fct_interactions
select v.district_id || '-' || to_char(v.local_date, 'YYYYMMDD') || '-' || k,
       v.district_id, 'zendesk', 'web', 'general', 'normal', k <= v.high_risk_interactions,
       md5(v.district_id || k), c.created, v.local_date, 2026,
       f.fr, f.fr + interval '60 minutes',
       extract(epoch from f.fr - c.created) / 60, extract(epoch from f.fr - c.created) / 60,
       extract(epoch from f.fr + interval '60 minutes' - c.created) / 60,
       extract(epoch from f.fr + interval '60 minutes' - c.created) / 60,
       960, f.fr is not null, null, null, 'parent', 'en', 'zd_' || v.district_id, false,
       false, case when f.fr is null then 0 else 1 end,
       case when k <= v.high_risk_interactions then 'safety' end
from build.fct_daily_volume v
cross join lateral generate_series(1, v.interactions) k
cross join lateral (select (v.local_date + time '08:00' + k * interval '10 minutes')
                           at time zone 'America/Chicago' as created) c
cross join lateral (select case when k %% 7 = 0 then null
                                else c.created + (k * 11 %% 120) * interval '1 minute'
                           end as fr) f;

insert into build.fct_ratings
select interaction_key, district_id, coalesce(first_response_at, created_at) + interval '2 hours',
       r, '1-5', r
from (select *, (abs(hashtext(interaction_key)) %% 5) + 1 as r
      from build.fct_interactions) x
where abs(hashtext(interaction_key)) %% 3 = 0;

-- every interaction answered within the day (no backlog), and its ratings by response bucket
insert into build.fct_backlog_daily
select v.district_id, v.local_date,
       (v.local_date + 1)::timestamp at time zone 'America/Chicago',
       0, 0, 0, 0, 0, 0, 0, 0, 0, null
from build.fct_daily_volume v;

insert into build.rating_drivers
select d.district_id, 2026, b.bucket, b.bucket_order, count(r.rating_1_5),
       case when count(r.rating_1_5) >= 30 then round(avg(r.rating_1_5), 2) end,
       case when count(r.rating_1_5) >= 30 then avg((r.rating_1_5 >= 4)::int) end,
       count(r.rating_1_5) < 30, 0, null
from build.dim_district d
cross join (values ('under_1_hour', 1), ('1_to_4_hours', 2), ('4_hours_to_1_day', 3),
                   ('1_to_2_days', 4), ('2_days_or_more', 5), ('unanswered_when_rated', 6))
           as b(bucket, bucket_order)
left join (select x.district_id, x.rating_1_5,
                  case when i.first_response_business_minutes is null
                       then 'unanswered_when_rated'
                       when i.first_response_business_minutes < 60 then 'under_1_hour'
                       else '1_to_4_hours' end as bucket
           from build.fct_ratings x join build.fct_interactions i using (interaction_key)) r
       on r.district_id = d.district_id and r.bucket = b.bucket
group by d.district_id, b.bucket, b.bucket_order;

insert into build.fct_survey_item_results
select d.district_id, 2026, item, 120, 60 + d.i * 3 + n, round((60 + d.i * 3 + n) * 100.0 / 120, 2)
from (select district_id, row_number() over (order by district_id) as i
      from build.dim_district) d
cross join unnest(array['safe_school', 'respect', 'communication']) with ordinality as t(item, n);

insert into build.district_scorecard
select d.district_id, 'school_year', date '2025-07-01', date '2026-06-30',
       i.n, v.service_days, round(i.n * 1000.0 / v.service_days / d.enrollment, 4),
       round(i.high_risk::numeric / i.n, 4), round(i.answered::numeric / i.n, 4),
       i.median_frt, i.p90_frt, round(i.sla_met::numeric / i.n, 4),
       r.score, r.positive, r.n
from build.dim_district d
join (select district_id, count(*) as n, count(*) filter (where high_risk) as high_risk,
             count(first_response_at) as answered, count(*) filter (where sla_met) as sla_met,
             percentile_cont(0.5) within group (order by first_response_business_minutes)
                 as median_frt,
             percentile_cont(0.9) within group (order by first_response_business_minutes)
                 as p90_frt
      from build.fct_interactions group by district_id) i using (district_id)
join (select district_id, count(*) filter (where is_service_day) as service_days
      from build.fct_daily_volume group by district_id) v using (district_id)
join (select district_id, round(avg(rating_1_5), 2) as score,
             round(avg((rating_1_5 >= 4)::int), 4) as positive, count(*) as n
      from build.fct_ratings group by district_id) r using (district_id);

insert into build.district_period_figures
select s.district_id, s.period_type, s.period_start, s.period_end, d.enrollment,
       s.service_days, s.interactions, round(s.high_risk_share * s.interactions),
       round(s.answered_share * s.interactions), s.interactions,
       round(s.sla_met_share * s.interactions), s.rating_count,
       round(s.positive_share * s.rating_count),
       s.interactions_per_1000_students_per_service_day, s.high_risk_share,
       s.answered_share, s.median_first_response_business_minutes,
       s.p90_first_response_business_minutes, s.sla_met_share, s.feedback_score,
       s.positive_share
from build.district_scorecard s
join build.dim_district d using (district_id);

insert into build.peer_benchmarks
select s.district_id, m.metric, 'school_year', date '2025-07-01', 'everyone', 'all',
       p.n, m.value, p.p25, p.p50, p.p75,
       null, m.value - p.p50, null
from build.district_scorecard s
cross join lateral (values ('feedback_score', s.feedback_score),
                           ('median_first_response_business_minutes',
                            s.median_first_response_business_minutes)) as m(metric, value)
join (select x.metric, count(*) as n,
             percentile_cont(0.25) within group (order by x.value) as p25,
             percentile_cont(0.5) within group (order by x.value) as p50,
             percentile_cont(0.75) within group (order by x.value) as p75
      from build.district_scorecard s2
      cross join lateral (values ('feedback_score', s2.feedback_score),
                                 ('median_first_response_business_minutes',
                                  s2.median_first_response_business_minutes))
                         as x(metric, value)
      group by x.metric) p on p.metric = m.metric;

-- as dbt does for a district under n: it still sees its group's aggregates, is not ranked
update build.peer_benchmarks set suppression_reason = 'district_below_n'
where district_id = '4800006' and metric = 'feedback_score';

insert into build.yoy_trends
select district_id, 'feedback_score', 2026, date '2025-07-01', %(last)s::date,
       feedback_score, feedback_score - 0.25, 0.25,
       round(0.25 * 100 / (feedback_score - 0.25), 2), 'improving'
from build.district_scorecard;

-- two schools per district (school_ids(district)) and the central office's remainder, and
-- one channel; the schools' figures are the district's
insert into build.unit_scorecard
select s.district_id, u.unit_type, u.unit_key, u.unit_key = '(unmapped)', 'school_year',
       date '2025-07-01', case when u.unit_type = 'school' then 700 end, u.n, s.interactions,
       round(u.n::numeric / s.interactions, 4), null,
       s.median_first_response_business_minutes, s.sla_met_share, s.feedback_score,
       s.rating_count / 3, null
from build.district_scorecard s
cross join lateral (values
    ('school', s.district_id || '00001', s.interactions / 2),
    ('school', s.district_id || '00002', s.interactions / 3),
    ('school', '(unmapped)', s.interactions - s.interactions / 2 - s.interactions / 3),
    ('channel', 'web', s.interactions)) as u(unit_type, unit_key, n);

insert into build.unit_rankings
select district_id, unit_type, unit_key, 'median_first_response_business_minutes',
       period_type, period_start, interactions, median_first_response_business_minutes, 2,
       case when unit_key like '%%1' then 1 else 0 end, median_first_response_business_minutes,
       null
from build.unit_scorecard where not is_unmapped;

insert into build.unit_equity_gaps
select district_id, 'language', 'en', 'median_first_response_business_minutes',
       'school_year', date '2025-07-01', 'en', interactions, 0, null
from build.district_scorecard;

-- the vendor agrees on every answered ticket (its figure is ours, rounded down)
insert into build.vendor_reconciliation
select district_id, 'zendesk', source_instance, 'school_year', date '2025-07-01',
       date '2026-06-30', 'metric_set.reply_time_in_minutes.business',
       count(first_response_at), 0, 0, 1, 0.5, 0.95, 0.5, 0, 0, 0, 0, 'none'
from build.fct_interactions
group by district_id, source_instance;

insert into build.dim_school
select district_id || '00001', district_id, name || ' High', 2026, enrollment / 3
from build.dim_district;

insert into build.dim_department
select district_id, 'transportation', 'Transportation' from build.dim_district;

insert into build.unit_mapping_coverage
select district_id, source_instance, source_system, school_year, 'school', count(*),
       count(*) filter (where school_id is null),
       round(count(*) filter (where school_id is null)::numeric / count(*), 4)
from build.fct_interactions
group by district_id, source_instance, source_system, school_year;
"""


def district_ids(districts: int = DISTRICTS) -> list[str]:
    return [f"48{d:05d}" for d in range(1, districts + 1)]


def school_ids(district_id: str) -> list[str]:
    """The fixture's two schools of a district (rows of the unit marts)."""
    return [f"{district_id}0000{s}" for s in (1, 2)]


def fixture_config(
    bi_readers: dict[str, list[str]] | None = None,
    bi_school_readers: dict[str, list[str]] | None = None,
    **gate,
) -> DeploymentConfig:
    """A deployment config naming the fixture's districts and schools; `gate` overrides
    GateConfig."""
    return DeploymentConfig.model_validate(
        {
            "name": "fixture",
            "districts": [
                {
                    "district_id": d,
                    "name": f"District {d}",
                    "state": "TX",
                    "timezone": "America/Chicago",
                    "enrollment": {2026: 1500},
                    "schools": [
                        {"school_id": s, "name": f"School {s}", "enrollment": {2026: 700}}
                        for s in school_ids(d)
                    ],
                }
                for d in district_ids()
            ],
            "gate": gate,
            "bi_readers": bi_readers or {},
            "bi_school_readers": bi_school_readers or {},
        }
    )


def last_date(night: int) -> dt.date:
    return FIRST_DATE + dt.timedelta(days=BASE_DAYS + night - 1)


def as_of(night: int) -> dt.datetime:
    """The run's end for a night: 08:00 UTC the day after its last local date."""
    return dt.datetime.combine(last_date(night) + dt.timedelta(days=1), dt.time(8), tzinfo=dt.UTC)


def build_night(url: str, night: int, districts: int = DISTRICTS) -> None:
    """Replace every mart in `build` with night `night`'s data; seed fresh sources for it."""
    params = {"districts": districts, "first": FIRST_DATE, "last": last_date(night)}
    with psycopg.connect(url) as conn:
        conn.execute(DDL)
        # client-side binding: FILL is several statements, which a prepared one cannot be
        with psycopg.ClientCursor(conn) as cur:
            cur.execute(FILL, params)
    seed_sources(url, as_of(night))


def seed_sources(url: str, run_end: dt.datetime, lag_hours: float = LAG_OK_HOURS) -> None:
    """One zendesk source per built district, whose last successful extract finished
    `lag_hours` before `run_end`."""
    finished = run_end - dt.timedelta(hours=lag_hours)
    with psycopg.connect(url) as conn:
        conn.execute("""
            insert into ref.sources (source_instance, district_id, source_type, max_lag_hours)
            select 'zd_' || district_id, district_id, 'zendesk', 36 from build.dim_district
            on conflict (source_instance) do nothing""")
        conn.execute(
            """
            insert into ops.extract_runs (run_id, batch_id, source_instance, source_type,
                                          started_at, finished_at, status)
            select %(run)s, %(run)s || '-' || source_instance, source_instance, 'zendesk',
                   %(finished)s - interval '5 minutes', %(finished)s, 'success'
            from ref.sources
            on conflict (batch_id) do update
            set finished_at = excluded.finished_at, started_at = excluded.started_at,
                status = 'success'""",
            {"run": f"fixture-{finished.isoformat()}", "finished": finished},
        )


def mark_source_stale(
    conn: psycopg.Connection, source_instance: str, run_end: dt.datetime, hours: float
) -> None:
    """Make a source's last successful extract `hours` old at `run_end` (a source that broke)."""
    conn.execute(
        "update ops.extract_runs set finished_at = %s, started_at = %s"
        " where source_instance = %s and status = 'success'",
        (
            run_end - dt.timedelta(hours=hours),
            run_end - dt.timedelta(hours=hours, minutes=5),
            source_instance,
        ),
    )
