-- One row per district, period and comparable metric: the value, the observations the n rule
-- counts for it (docs/metrics.md "Peer benchmarks") and which way is better. Peer benchmarks and
-- year over year both read metrics in this shape, so a metric's direction and its n are
-- decided here once. Its inputs are the seam models (int_benchmark_district_periods,
-- int_benchmark_survey_items): a district's own figures, or a consortium hub's pooled ones.

with

district_periods as (
    select
        district_periods.district_id,
        district_periods.period_type,
        district_periods.period_start,
        district_periods.period_end,
        district_periods.interactions,
        district_periods.rating_count,
        district_periods.interactions_per_1000_students_per_service_day,
        district_periods.high_risk_share,
        district_periods.answered_share,
        district_periods.median_first_response_business_minutes,
        district_periods.p90_first_response_business_minutes,
        district_periods.sla_met_share,
        district_periods.feedback_score,
        district_periods.positive_share,
        district_periods.ever_solved_tickets,
        district_periods.solved_tickets,
        district_periods.backlog_end,
        district_periods.past_due_end,
        district_periods.after_hours_share,
        district_periods.reopen_rate,
        district_periods.one_touch_share
    from {{ ref('int_benchmark_district_periods') }} as district_periods
),

survey_items as (
    select
        survey_items.district_id,
        survey_items.school_year,
        survey_items.item_code,
        survey_items.valid_answers,
        survey_items.percent_agree
    from {{ ref('int_benchmark_survey_items') }} as survey_items
),

district_period_metrics as (
    -- Volume and response metrics count interactions as observations, feedback metrics count
    -- ratings. Volume and high-risk share have no better direction (macros/scorecard.sql).
    select
        district_periods.district_id,
        district_periods.period_type,
        district_periods.period_start,
        district_periods.period_end,
        metric_rows.metric,
        metric_rows.metric_value,
        metric_rows.observations,
        metric_rows.direction
    from district_periods
    cross join lateral (
        {{ scorecard_metric_rows('district_periods') }},
        -- service health (docs/metrics.md "Service health"): a reopen rate's observations are
        -- the tickets ever solved, one-touch's the tickets solved now; after-hours and the
        -- backlog size have no better direction (the backlog grows with enrollment)
        (
            'after_hours_share',
            district_periods.after_hours_share,
            district_periods.interactions,
            null
        ),
        (
            'reopen_rate',
            district_periods.reopen_rate,
            district_periods.ever_solved_tickets,
            'lower_is_better'
        ),
        (
            'one_touch_share',
            district_periods.one_touch_share,
            district_periods.solved_tickets,
            'higher_is_better'
        ),
        (
            'backlog_end',
            district_periods.backlog_end,
            district_periods.interactions,
            null
        ),
        (
            'past_due_end',
            district_periods.past_due_end,
            district_periods.interactions,
            'lower_is_better'
        )
    ) as metric_rows (metric, metric_value, observations, direction)
),

survey_item_metrics as (
    -- Survey items exist per school year only; their n is the item's valid answers.
    select
        survey_items.district_id,
        'school_year' as period_type,
        make_date(survey_items.school_year - 1, 7, 1) as period_start,
        make_date(survey_items.school_year, 6, 30) as period_end,
        'percent_agree.' || survey_items.item_code as metric,
        survey_items.percent_agree as metric_value,
        survey_items.valid_answers as observations,
        'higher_is_better' as direction
    from survey_items
),

metric_values as (
    select
        district_period_metrics.district_id,
        district_period_metrics.period_type,
        district_period_metrics.period_start,
        district_period_metrics.period_end,
        district_period_metrics.metric,
        district_period_metrics.metric_value::numeric as metric_value,
        district_period_metrics.observations::integer as observations,
        district_period_metrics.direction::text as direction
    from district_period_metrics
    union all
    select
        survey_item_metrics.district_id,
        survey_item_metrics.period_type,
        survey_item_metrics.period_start,
        survey_item_metrics.period_end,
        survey_item_metrics.metric,
        survey_item_metrics.metric_value::numeric as metric_value,
        survey_item_metrics.observations::integer as observations,
        survey_item_metrics.direction
    from survey_item_metrics
)

select * from metric_values
