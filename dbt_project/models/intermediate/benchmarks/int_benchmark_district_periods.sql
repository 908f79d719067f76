-- The seam between a district's own figures and a consortium's pooled ones: the district
-- figures per period that peer benchmarks and year over year read. var benchmark_input
-- 'local' (default): this warehouse's int_district_periods_aggregated. 'pooled' (a consortium
-- hub): pool.district_period_figures, the same figures as the districts published them in
-- marts.district_period_figures. Everything above this model is one implementation for both.

with

{% if benchmark_input() == 'pooled' -%}

pooled_figures as (
    select
        figures.district_id,
        figures.period_type,
        figures.period_start,
        figures.period_end,
        figures.enrollment,
        figures.interactions,
        figures.rating_count,
        figures.interactions_per_1000_students_per_service_day,
        figures.high_risk_share,
        figures.answered_share,
        figures.median_first_response_business_minutes,
        figures.p90_first_response_business_minutes,
        figures.sla_met_share,
        figures.feedback_score,
        figures.positive_share,
        figures.ever_solved_tickets,
        figures.solved_tickets,
        figures.backlog_end,
        figures.past_due_end,
        figures.after_hours_share,
        figures.reopen_rate,
        figures.one_touch_share
    from {{ source('pool', 'district_period_figures') }} as figures
),

latest_spans as (
    -- A district's latest extract replaces its rows period by period, so the to-date spans of
    -- an earlier school year stay in the pool: year over year uses the latest one, and the
    -- prior span that belongs to it (one year earlier), as the district itself did.
    select
        pooled_figures.district_id,
        max(pooled_figures.period_start) as span_start
    from pooled_figures
    where pooled_figures.period_type = 'school_year_to_date'
    group by pooled_figures.district_id
),

district_periods as (
    select pooled_figures.*
    from pooled_figures
    left join latest_spans
        on pooled_figures.district_id = latest_spans.district_id
    where
        pooled_figures.period_type in ('school_year', 'month', 'week')
        or (
            pooled_figures.period_type = 'school_year_to_date'
            and pooled_figures.period_start = latest_spans.span_start
        )
        or (
            pooled_figures.period_type = 'prior_school_year_to_date'
            and pooled_figures.period_start = (latest_spans.span_start - interval '1 year')::date
        )
)

{%- else -%}

district_periods as (
    select
        district_periods.district_id,
        district_periods.period_type,
        district_periods.period_start,
        district_periods.period_end,
        district_periods.enrollment,
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
    from {{ ref('int_district_periods_aggregated') }} as district_periods
)

{%- endif %}

select * from district_periods
