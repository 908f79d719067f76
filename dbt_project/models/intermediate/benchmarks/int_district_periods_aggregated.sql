-- District figures per period, defined once for the scorecard (school years, months, ISO
-- weeks) and for year over year (this school year to date and the same span a year earlier),
-- so the two marts can never disagree on a definition. Grain: district, period_type,
-- period_start. Definitions: docs/metrics.md "Response time", "Ratings", "Volume per student".

with

daily_volume as (
    select
        daily_volume.district_id,
        daily_volume.local_date,
        daily_volume.is_service_day
    from {{ ref('fct_daily_volume') }} as daily_volume
),

configured_enrollment as (
    select
        configured_enrollment.district_id,
        configured_enrollment.school_year,
        configured_enrollment.enrollment
    from {{ ref('stg_ref__district_enrollment') }} as configured_enrollment
),

as_of as (
    select as_of.as_of_date from {{ ref('int_as_of') }} as as_of
),

interactions as (
    -- Only what the run's as-of date covers: the extract window runs to 08:00 UTC next morning,
    -- so the next local date's first hours are loaded too; they belong to the next night's
    -- figures (their service days are not counted before then).
    select
        interactions.interaction_key,
        interactions.district_id,
        interactions.local_date,
        interactions.high_risk,
        interactions.first_response_at,
        interactions.first_response_business_minutes,
        interactions.sla_met,
        interactions.is_after_hours,
        -- service health (docs/metrics.md "Service health"): helpdesk tickets only
        interactions.source_system in ('zendesk', 'freshdesk') and interactions.ever_solved
            as is_ever_solved_ticket,
        interactions.source_system in ('zendesk', 'freshdesk') and interactions.reopened
            as is_reopened_ticket,
        interactions.source_system in ('zendesk', 'freshdesk')
        and interactions.status in ('solved', 'closed') as is_solved_ticket,
        interactions.source_system in ('zendesk', 'freshdesk') and interactions.one_touch
            as is_one_touch_ticket,
        -- its latest rating (fct_ratings has one per interaction): a rating counts in the
        -- period its interaction was created in, not when it was given
        ratings.rating_1_5
    from {{ ref('fct_interactions') }} as interactions
    cross join as_of
    left join {{ ref('fct_ratings') }} as ratings
        on interactions.interaction_key = ratings.interaction_key
    where interactions.local_date <= as_of.as_of_date
),

yoy_spans as (
    select
        yoy_spans.span_start,
        yoy_spans.span_end,
        yoy_spans.prior_span_start,
        yoy_spans.prior_span_end
    from {{ ref('int_yoy_spans_resolved') }} as yoy_spans
),

local_dates as (
    select distinct daily_volume.local_date from daily_volume
),

date_periods as (
    -- Every local date mapped to each period it falls in; facts join here on the date alone.
    select
        local_dates.local_date,
        'school_year' as period_type,
        make_date({{ school_year('local_dates.local_date') }} - 1, 7, 1) as period_start,
        make_date({{ school_year('local_dates.local_date') }}, 6, 30) as period_end
    from local_dates

    union all

    select
        local_dates.local_date,
        'month' as period_type,
        {{ dbt.date_trunc('month', 'local_dates.local_date') }}::date as period_start,
        {{ dbt.last_day('local_dates.local_date', 'month') }} as period_end
    from local_dates

    union all

    -- date_trunc('week') starts weeks on Monday: ISO weeks. Not dbt.date_trunc: the week it
    -- truncates to starts on another day on other engines (BigQuery: Sunday).
    select
        local_dates.local_date,
        'week' as period_type,
        date_trunc('week', local_dates.local_date)::date as period_start,
        date_trunc('week', local_dates.local_date)::date + 6 as period_end
    from local_dates

    union all

    select
        local_dates.local_date,
        'school_year_to_date' as period_type,
        yoy_spans.span_start as period_start,
        yoy_spans.span_end as period_end
    from local_dates
    inner join yoy_spans
        on local_dates.local_date between yoy_spans.span_start and yoy_spans.span_end

    union all

    select
        local_dates.local_date,
        'prior_school_year_to_date' as period_type,
        yoy_spans.prior_span_start as period_start,
        yoy_spans.prior_span_end as period_end
    from local_dates
    inner join yoy_spans
        on local_dates.local_date between yoy_spans.prior_span_start and yoy_spans.prior_span_end
),

service_days_by_period as (
    select
        daily_volume.district_id,
        date_periods.period_type,
        date_periods.period_start,
        date_periods.period_end,
        count(*) filter (where daily_volume.is_service_day) as service_days
    from daily_volume
    inner join date_periods
        on daily_volume.local_date = date_periods.local_date
    group by
        daily_volume.district_id,
        date_periods.period_type,
        date_periods.period_start,
        date_periods.period_end
),

interactions_dated as (
    -- Each interaction's periods as columns: one sort per period type below (grouping sets),
    -- instead of one row per interaction and period (four times the rows to sort).
    -- date_trunc on timestamp, not timestamptz: no time zone arithmetic per row.
    select
        interactions.district_id,
        interactions.high_risk,
        interactions.first_response_at,
        interactions.first_response_business_minutes,
        interactions.sla_met,
        interactions.rating_1_5,
        interactions.is_after_hours,
        interactions.is_ever_solved_ticket,
        interactions.is_reopened_ticket,
        interactions.is_solved_ticket,
        interactions.is_one_touch_ticket,
        make_date({{ school_year('interactions.local_date') }} - 1, 7, 1) as school_year_start,
        {{ dbt.date_trunc('month', 'cast(interactions.local_date as timestamp)') }}::date
            as month_start,
        date_trunc('week', interactions.local_date::timestamp)::date as week_start,
        case
            when interactions.local_date between yoy_spans.span_start and yoy_spans.span_end
                then 'school_year_to_date'
            when
                interactions.local_date
                between yoy_spans.prior_span_start and yoy_spans.prior_span_end
                then 'prior_school_year_to_date'
        end as span_type
    from interactions
    left join yoy_spans on true
),

interactions_grouped as (
    select
        interactions_dated.district_id,
        interactions_dated.school_year_start,
        interactions_dated.month_start,
        interactions_dated.week_start,
        interactions_dated.span_type,
        grouping(
            interactions_dated.school_year_start,
            interactions_dated.month_start,
            interactions_dated.week_start,
            interactions_dated.span_type
        ) as grouping_mask,
        {{ scorecard_aggregates('interactions_dated') }},
        count(*) filter (where interactions_dated.is_after_hours) as after_hours_interactions,
        count(*) filter (where interactions_dated.is_ever_solved_ticket) as ever_solved_tickets,
        count(*) filter (where interactions_dated.is_reopened_ticket) as reopened_tickets,
        count(*) filter (where interactions_dated.is_solved_ticket) as solved_tickets,
        count(*) filter (where interactions_dated.is_one_touch_ticket) as one_touch_tickets
    from interactions_dated
    group by grouping sets (
        (interactions_dated.district_id, interactions_dated.school_year_start),
        (interactions_dated.district_id, interactions_dated.month_start),
        (interactions_dated.district_id, interactions_dated.week_start),
        (interactions_dated.district_id, interactions_dated.span_type)
    )
),

interactions_by_period as (
    -- grouping_mask has a bit per key left out of the set, the first key highest: 7 = by school
    -- year, 11 = by month, 13 = by week, 14 = by year-over-year span
    select
        interactions_grouped.district_id,
        case interactions_grouped.grouping_mask
            when 7 then 'school_year'
            when 11 then 'month'
            when 13 then 'week'
            else interactions_grouped.span_type
        end as period_type,
        case interactions_grouped.grouping_mask
            when 7 then interactions_grouped.school_year_start
            when 11 then interactions_grouped.month_start
            when 13 then interactions_grouped.week_start
            when 14 then
                case interactions_grouped.span_type
                    when 'school_year_to_date' then yoy_spans.span_start
                    else yoy_spans.prior_span_start
                end
        end as period_start,
        case interactions_grouped.grouping_mask
            when 7 then (interactions_grouped.school_year_start + interval '1 year - 1 day')::date
            when 11 then (interactions_grouped.month_start + interval '1 month - 1 day')::date
            when 13 then interactions_grouped.week_start + 6
            when 14 then
                case interactions_grouped.span_type
                    when 'school_year_to_date' then yoy_spans.span_end
                    else yoy_spans.prior_span_end
                end
        end as period_end,
        interactions_grouped.interactions,
        interactions_grouped.high_risk_interactions,
        interactions_grouped.answered_interactions,
        interactions_grouped.first_response_percentiles[1]
            as median_first_response_business_minutes,
        interactions_grouped.first_response_percentiles[2]
            as p90_first_response_business_minutes,
        interactions_grouped.sla_evaluated_interactions,
        interactions_grouped.sla_met_interactions,
        interactions_grouped.rating_count,
        interactions_grouped.mean_rating_1_5,
        interactions_grouped.positive_ratings,
        interactions_grouped.after_hours_interactions,
        interactions_grouped.ever_solved_tickets,
        interactions_grouped.reopened_tickets,
        interactions_grouped.solved_tickets,
        interactions_grouped.one_touch_tickets
    from interactions_grouped
    left join yoy_spans on true
    -- interactions outside both year-over-year spans form a group without a period
    where interactions_grouped.grouping_mask != 14 or interactions_grouped.span_type is not null
),

district_periods as (
    -- A period exists for a district when its calendar covers a day of it or an interaction
    -- was created in it; ratings only ever belong to interactions, so they add none.
    select
        service_days_by_period.district_id,
        service_days_by_period.period_type,
        service_days_by_period.period_start,
        service_days_by_period.period_end
    from service_days_by_period
    union
    select
        interactions_by_period.district_id,
        interactions_by_period.period_type,
        interactions_by_period.period_start,
        interactions_by_period.period_end
    from interactions_by_period
),

period_school_years as (
    -- A period's enrollment is that of the school year its start falls in: a week that
    -- straddles 1 July takes the enrollment of the school year it starts in.
    select distinct
        district_periods.district_id,
        {{ school_year('district_periods.period_start') }} as school_year
    from district_periods
),

enrollment_by_school_year as (
    -- The configured enrollment of that school year, else of the nearest earlier configured
    -- year, else of the earliest one: the rule fct_daily_volume and dim_district use
    -- (schoolcx.config.District.enrollment_for), also for a week that starts before the
    -- district's calendar does.
    select
        period_school_years.district_id,
        period_school_years.school_year,
        resolved.enrollment
    from period_school_years
    cross join lateral (
        select configured_enrollment.enrollment
        from configured_enrollment
        where configured_enrollment.district_id = period_school_years.district_id
        order by
            configured_enrollment.school_year <= period_school_years.school_year desc,
            abs(configured_enrollment.school_year - period_school_years.school_year) asc
        limit 1
    ) as resolved
),

joined as (
    select
        district_periods.district_id,
        district_periods.period_type,
        district_periods.period_start,
        district_periods.period_end,
        enrollment_by_school_year.enrollment,
        coalesce(service_days_by_period.service_days, 0) as service_days,
        coalesce(interactions_by_period.interactions, 0) as interactions,
        coalesce(interactions_by_period.high_risk_interactions, 0) as high_risk_interactions,
        coalesce(interactions_by_period.answered_interactions, 0) as answered_interactions,
        interactions_by_period.median_first_response_business_minutes,
        interactions_by_period.p90_first_response_business_minutes,
        coalesce(interactions_by_period.sla_evaluated_interactions, 0)
            as sla_evaluated_interactions,
        coalesce(interactions_by_period.sla_met_interactions, 0) as sla_met_interactions,
        coalesce(interactions_by_period.rating_count, 0) as rating_count,
        interactions_by_period.mean_rating_1_5,
        coalesce(interactions_by_period.positive_ratings, 0) as positive_ratings,
        coalesce(interactions_by_period.after_hours_interactions, 0) as after_hours_interactions,
        coalesce(interactions_by_period.ever_solved_tickets, 0) as ever_solved_tickets,
        coalesce(interactions_by_period.reopened_tickets, 0) as reopened_tickets,
        coalesce(interactions_by_period.solved_tickets, 0) as solved_tickets,
        coalesce(interactions_by_period.one_touch_tickets, 0) as one_touch_tickets,
        -- what was waiting at the end of the period's last day the data covers
        coalesce(backlog.backlog, 0) as backlog_end,
        coalesce(backlog.past_due, 0) as past_due_end
    from district_periods
    cross join as_of
    left join {{ ref('fct_backlog_daily') }} as backlog
        on
            district_periods.district_id = backlog.district_id
            and least(district_periods.period_end, as_of.as_of_date) = backlog.local_date
    left join service_days_by_period
        on
            district_periods.district_id = service_days_by_period.district_id
            and district_periods.period_type = service_days_by_period.period_type
            and district_periods.period_start = service_days_by_period.period_start
    left join interactions_by_period
        on
            district_periods.district_id = interactions_by_period.district_id
            and district_periods.period_type = interactions_by_period.period_type
            and district_periods.period_start = interactions_by_period.period_start
    left join enrollment_by_school_year
        on
            district_periods.district_id = enrollment_by_school_year.district_id
            and {{ school_year('district_periods.period_start') }}
            = enrollment_by_school_year.school_year
),

figures as (
    select
        joined.district_id,
        joined.period_type,
        joined.period_start,
        joined.period_end,
        joined.enrollment,
        joined.interactions::integer as interactions,
        joined.service_days::integer as service_days,
        {{ volume_per_1000_students_per_service_day(
            'joined.interactions', 'joined.service_days', 'joined.enrollment'
        ) }} as interactions_per_1000_students_per_service_day,
        {{ scorecard_rates('joined') }},
        joined.rating_count::integer as rating_count,
        -- the counts behind the shares: what a district exports for pooling
        -- (marts.district_period_figures), so a hub can check every share against its counts
        joined.high_risk_interactions::integer as high_risk_interactions,
        joined.answered_interactions::integer as answered_interactions,
        joined.sla_evaluated_interactions::integer as sla_evaluated_interactions,
        joined.sla_met_interactions::integer as sla_met_interactions,
        joined.positive_ratings::integer as positive_ratings,
        -- service health (docs/metrics.md "Service health"), by creation period; the backlog at
        -- the end of the period's last covered day
        joined.after_hours_interactions::integer as after_hours_interactions,
        joined.ever_solved_tickets::integer as ever_solved_tickets,
        joined.reopened_tickets::integer as reopened_tickets,
        joined.solved_tickets::integer as solved_tickets,
        joined.one_touch_tickets::integer as one_touch_tickets,
        joined.backlog_end::integer as backlog_end,
        joined.past_due_end::integer as past_due_end,
        trim_scale(joined.after_hours_interactions::numeric / nullif(joined.interactions, 0))
            as after_hours_share,
        trim_scale(joined.reopened_tickets::numeric / nullif(joined.ever_solved_tickets, 0))
            as reopen_rate,
        trim_scale(joined.one_touch_tickets::numeric / nullif(joined.solved_tickets, 0))
            as one_touch_share
    from joined
)

select * from figures
