-- Each unit against the other units of its type in its district (docs/metrics.md "Below the
-- district"), per metric and period, with the district's own value beside it. The rank rule is
-- the peers' (macros/scorecard.sql others_doing_worse: the share of the other qualifying units
-- doing strictly worse, ties not worse); there is no k, and n applies: a unit under n
-- observations is shown with its count, not ranked, and is left out of the others' ranks. The
-- unmapped remainder is not a unit: it has no row here (unit_scorecard shows it).
{%- set n_min_observations = var('n_min_observations', 30) %}

with

unit_periods as (
    select
        unit_periods.district_id,
        unit_periods.unit_type,
        unit_periods.unit_key,
        unit_periods.period_type,
        unit_periods.period_start,
        unit_periods.interactions,
        unit_periods.rating_count,
        unit_periods.interactions_per_1000_students_per_service_day,
        unit_periods.high_risk_share,
        unit_periods.answered_share,
        unit_periods.median_first_response_business_minutes,
        unit_periods.p90_first_response_business_minutes,
        unit_periods.sla_met_share,
        unit_periods.feedback_score,
        unit_periods.positive_share
    from {{ ref('unit_scorecard') }} as unit_periods
    where not unit_periods.is_unmapped
),

district_periods as (
    select
        district_periods.district_id,
        district_periods.period_type,
        district_periods.period_start,
        district_periods.interactions,
        district_periods.rating_count,
        district_periods.interactions_per_1000_students_per_service_day,
        district_periods.high_risk_share,
        district_periods.answered_share,
        district_periods.median_first_response_business_minutes,
        district_periods.p90_first_response_business_minutes,
        district_periods.sla_met_share,
        district_periods.feedback_score,
        district_periods.positive_share
    from {{ ref('district_scorecard') }} as district_periods
),

unit_metrics as (
    select
        unit_periods.district_id,
        unit_periods.unit_type,
        unit_periods.unit_key,
        unit_periods.period_type,
        unit_periods.period_start,
        metric_rows.metric,
        metric_rows.metric_value::numeric as unit_value,
        metric_rows.observations::integer as observations,
        metric_rows.direction::text as direction,
        (
            metric_rows.observations >= {{ n_min_observations }}
            and metric_rows.metric_value is not null
        ) as meets_n
    from unit_periods
    cross join
        lateral (
            {{ scorecard_metric_rows('unit_periods') }}
        ) as metric_rows (metric, metric_value, observations, direction)
    -- volume per student exists for schools only
    where
        unit_periods.unit_type = 'school'
        or metric_rows.metric != 'interactions_per_1000_students_per_service_day'
),

district_metrics as (
    select
        district_periods.district_id,
        district_periods.period_type,
        district_periods.period_start,
        metric_rows.metric,
        metric_rows.metric_value::numeric as district_value
    from district_periods
    cross join lateral (
        {{ scorecard_metric_rows('district_periods') }}
    ) as metric_rows (metric, metric_value, observations, direction)
),

counted as (
    -- Window counts over the units that meet n (and have a value), as peer_benchmarks does
    -- over districts: linear in the rows.
    select
        unit_metrics.*,
        count(*) filter (where unit_metrics.meets_n) over unit_group as n_units,
        count(*) filter (where unit_metrics.meets_n) over (
            unit_group order by unit_metrics.unit_value asc
        ) as qualifying_at_or_below,
        count(*) filter (where unit_metrics.meets_n) over (
            partition by
                unit_metrics.district_id,
                unit_metrics.unit_type,
                unit_metrics.metric,
                unit_metrics.period_type,
                unit_metrics.period_start,
                unit_metrics.unit_value
        ) as qualifying_equal
    from unit_metrics
    window unit_group as (
        partition by
            unit_metrics.district_id,
            unit_metrics.unit_type,
            unit_metrics.metric,
            unit_metrics.period_type,
            unit_metrics.period_start
    )
),

ranked as (
    select
        counted.district_id,
        counted.unit_type,
        counted.unit_key,
        counted.metric,
        counted.period_type,
        counted.period_start,
        counted.observations,
        -- a unit under n shows its count only: its value is too thin to publish or place
        case when counted.meets_n then counted.unit_value end as unit_value,
        counted.n_units::integer as n_units,
        case
            when counted.meets_n
                then trim_scale(
                    {{ others_doing_worse(
                        'counted.direction',
                        'counted.qualifying_at_or_below',
                        'counted.qualifying_equal',
                        'counted.n_units'
                    ) }}::numeric
                    / nullif(counted.n_units - 1, 0)
                )
        end as percentile_rank,
        district_metrics.district_value,
        case
            when counted.meets_n
                then trim_scale(counted.unit_value - district_metrics.district_value)
        end as delta_from_district,
        case
            when counted.observations < {{ n_min_observations }} then 'unit_below_n'
            when counted.unit_value is null then 'no_unit_value'
        end as suppression_reason
    from counted
    left join district_metrics
        on
            counted.district_id = district_metrics.district_id
            and counted.period_type = district_metrics.period_type
            and counted.period_start = district_metrics.period_start
            and counted.metric = district_metrics.metric
)

select * from ranked
