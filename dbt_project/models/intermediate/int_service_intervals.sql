{{
    config(
        indexes=[
            {'columns': ['district_id', 'open_at'], 'unique': True},
            {'columns': ['district_id', 'close_at'], 'unique': True},
        ]
    )
}}
-- One row per district and service day: the service interval [open_at, close_at) in UTC and the
-- cumulative business seconds before it opens and when it closes. Non-service weekdays and
-- closures are absent. Business seconds between t0 and t1 = cum(t1) - cum(t0), where cum(t) is
-- read from the interval with the latest open_at <= t (clamped to its close).
with

calendar_days as (
    select * from {{ ref('int_calendar_days') }}
),

final as (
    select
        calendar_days.district_id,
        calendar_days.local_date,
        calendar_days.timezone,
        calendar_days.open_at,
        calendar_days.close_at,
        calendar_days.service_seconds,
        calendar_days.cum_seconds_at_day_start as cum_seconds_at_open,
        calendar_days.cum_seconds_at_day_start + calendar_days.service_seconds
            as cum_seconds_at_close
    from calendar_days
    where calendar_days.is_service_day
)

select * from final
