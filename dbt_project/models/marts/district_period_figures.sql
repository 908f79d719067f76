-- What a district sends its consortium (issue 15, schoolcx pool export): its figures per
-- period with the counts behind every share, for the scorecard periods and the two
-- year-over-year spans. Aggregates only: no row here is about a person. Columns are those of
-- pool.district_period_figures (migration 0013) without extract_id, in the same order, so a
-- hub loads an extract without mapping. The service-health columns (issue 18) follow, as
-- migration 0022 appended them to the pool table.

with

district_periods as (
    select
        district_periods.district_id,
        district_periods.period_type,
        district_periods.period_start,
        district_periods.period_end,
        district_periods.enrollment::integer as enrollment,
        district_periods.service_days,
        district_periods.interactions,
        district_periods.high_risk_interactions,
        district_periods.answered_interactions,
        district_periods.sla_evaluated_interactions,
        district_periods.sla_met_interactions,
        district_periods.rating_count,
        district_periods.positive_ratings,
        district_periods.interactions_per_1000_students_per_service_day,
        district_periods.high_risk_share,
        district_periods.answered_share,
        district_periods.median_first_response_business_minutes,
        district_periods.p90_first_response_business_minutes,
        district_periods.sla_met_share,
        district_periods.feedback_score,
        district_periods.positive_share,
        district_periods.after_hours_interactions,
        district_periods.ever_solved_tickets,
        district_periods.reopened_tickets,
        district_periods.solved_tickets,
        district_periods.one_touch_tickets,
        district_periods.backlog_end,
        district_periods.past_due_end,
        district_periods.after_hours_share,
        district_periods.reopen_rate,
        district_periods.one_touch_share
    from {{ ref('int_district_periods_aggregated') }} as district_periods
)

select * from district_periods
