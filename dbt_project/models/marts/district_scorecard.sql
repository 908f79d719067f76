-- A district's own figures per school year, month and ISO week (docs/metrics.md). The figures are
-- computed in int_district_periods_aggregated, shared with year over year; this mart publishes
-- the calendar periods.

with

district_periods as (
    select
        district_periods.district_id,
        district_periods.period_type,
        district_periods.period_start,
        district_periods.period_end,
        district_periods.interactions,
        district_periods.service_days,
        district_periods.interactions_per_1000_students_per_service_day,
        district_periods.high_risk_share,
        district_periods.answered_share,
        district_periods.median_first_response_business_minutes,
        district_periods.p90_first_response_business_minutes,
        district_periods.sla_met_share,
        district_periods.feedback_score,
        district_periods.positive_share,
        district_periods.rating_count,
        -- service health (docs/metrics.md "Service health")
        district_periods.after_hours_share,
        district_periods.reopen_rate,
        district_periods.one_touch_share,
        district_periods.backlog_end,
        district_periods.past_due_end
    from {{ ref('int_district_periods_aggregated') }} as district_periods
    where district_periods.period_type in ('school_year', 'month', 'week')
)

select * from district_periods
