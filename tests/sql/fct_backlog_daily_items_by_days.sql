-- Test-only reference (tests/test_backlog_sweep.py): fct_backlog_daily as it was computed
-- before issue 19, joining each backlog item to every day it is open (items x days), full-build
-- form (no config, no incremental branch). The model's sweep must give exactly these rows.
-- One row per district and local date, from the district's first interaction to the as-of
-- date: the backlog at the end of the day (docs/metrics.md "Service health"), past due, and
-- counts per aging bucket in service days, from the interaction history as it stood at that
-- instant (int_interaction_backlog_spans: a ticket solved later was in the backlog before).
-- The end of day D is the instant D + 1 00:00 local; a ticket solved at that instant is not
-- waiting. Business age at it: cum(end of D) - cum(created_at) on int_calendar_days, where
-- cum(end of D) = the day's cum_seconds_at_day_start + service_seconds (no second lookup).
-- Past due: waiting and (unanswered at that instant past its first-response target, or older
-- than the district's past_due_service_days).
with

as_of as (
    select as_of.as_of_date from {{ ref('int_as_of') }} as as_of
),

districts as (
    select
        districts.district_id,
        districts.service_day_minutes,
        districts.past_due_service_days
    from {{ ref('stg_ref__districts') }} as districts
),

first_dates as (
    select
        interactions.district_id,
        min(interactions.local_date) as first_date
    from {{ ref('fct_interactions') }} as interactions
    group by interactions.district_id
),

days as (
    select
        calendar.district_id,
        calendar.local_date,
        calendar.timezone,
        ((calendar.local_date + 1)::timestamp at time zone calendar.timezone) as day_end_at,
        calendar.cum_seconds_at_day_start + calendar.service_seconds as cum_seconds_at_day_end,
        districts.service_day_minutes,
        districts.past_due_service_days
    from {{ ref('int_calendar_days') }} as calendar
    inner join first_dates
        on calendar.district_id = first_dates.district_id
    inner join districts
        on calendar.district_id = districts.district_id
    cross join as_of
    where
        calendar.local_date between first_dates.first_date and as_of.as_of_date
),

window_start as (
    select min(days.day_end_at) as first_day_end_at from days
),

items as (
    -- waiting at some instant of the days being built: its last span ends after the first
    -- day's end, or never (upper() of a multirange: its last span's end, NULL when unbounded)
    select
        spans.interaction_key,
        spans.district_id,
        spans.created_at,
        spans.local_date,
        spans.first_response_at,
        spans.sla_target_minutes,
        spans.backlog_spans,
        upper(spans.backlog_spans) as waiting_until
    from {{ ref('int_interaction_backlog_spans') }} as spans
    cross join window_start
    where
        not isempty(spans.backlog_spans)
        and (upper_inf(spans.backlog_spans) or upper(spans.backlog_spans) > window_start.first_day_end_at)
),

aged as (
    select
        days.district_id,
        days.local_date,
        (
            days.cum_seconds_at_day_end
            - {{ business_clock('created_day', 'items.created_at') }}
        ) / 60.0 as age_business_minutes,
        days.service_day_minutes,
        days.past_due_service_days,
        items.sla_target_minutes,
        (items.first_response_at is null or items.first_response_at >= days.day_end_at)
            as is_unanswered
    from days
    inner join items
        on
            days.district_id = items.district_id
            and days.local_date >= items.local_date
            and (items.waiting_until is null or days.day_end_at < items.waiting_until)
    inner join {{ ref('int_calendar_days') }} as created_day
        on
            items.district_id = created_day.district_id
            and items.local_date = created_day.local_date
    where
        items.created_at < days.day_end_at
        and items.backlog_spans @> days.day_end_at
),

flagged as (
    select
        aged.district_id,
        aged.local_date,
        aged.age_business_minutes / aged.service_day_minutes as age_service_days,
        (
            aged.is_unanswered and aged.age_business_minutes > aged.sla_target_minutes
        ) as is_past_target,
        aged.age_business_minutes / aged.service_day_minutes > aged.past_due_service_days
            as is_past_age
    from aged
),

counted as (
    select
        flagged.district_id,
        flagged.local_date,
        count(*) as backlog,
        count(*) filter (where flagged.is_past_target or flagged.is_past_age) as past_due,
        count(*) filter (where flagged.is_past_target) as past_due_by_target,
        count(*) filter (where flagged.is_past_age) as past_due_by_age,
        count(*) filter (where flagged.age_service_days < 1) as aged_under_1,
        count(*) filter (where flagged.age_service_days >= 1 and flagged.age_service_days < 2) as aged_1_2,
        count(*) filter (where flagged.age_service_days >= 2 and flagged.age_service_days < 5) as aged_2_5,
        count(*) filter (where flagged.age_service_days >= 5 and flagged.age_service_days < 10) as aged_5_10,
        count(*) filter (where flagged.age_service_days >= 10) as aged_10_plus,
        max(flagged.age_service_days) as oldest_age_service_days
    from flagged
    group by flagged.district_id, flagged.local_date
),

final as (
    select
        days.district_id::text as district_id,
        days.local_date::date as local_date,
        days.day_end_at::timestamptz as day_end_at,
        coalesce(counted.backlog, 0)::integer as backlog,
        coalesce(counted.past_due, 0)::integer as past_due,
        coalesce(counted.past_due_by_target, 0)::integer as past_due_by_target,
        coalesce(counted.past_due_by_age, 0)::integer as past_due_by_age,
        coalesce(counted.aged_under_1, 0)::integer as aged_under_1,
        coalesce(counted.aged_1_2, 0)::integer as aged_1_2,
        coalesce(counted.aged_2_5, 0)::integer as aged_2_5,
        coalesce(counted.aged_5_10, 0)::integer as aged_5_10,
        coalesce(counted.aged_10_plus, 0)::integer as aged_10_plus,
        round(counted.oldest_age_service_days::numeric, 4)::numeric as oldest_age_service_days
    from days
    left join counted
        on
            days.district_id = counted.district_id
            and days.local_date = counted.local_date
)

select * from final
