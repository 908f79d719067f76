{{
    config(
        indexes=[{'columns': ['district_id', 'local_date'], 'unique': True}],
        post_hook=[
            "{{ create_business_seconds_function(this) }}",
            "{{ analyze_when_new(this) }}",
        ]
    )
}}
-- One row per district and local date of its calendar range (ref.districts calendar_start ..
-- calendar_end): whether it is a service day, the day's service interval in UTC built from the
-- local wall clock ((date + time) at time zone tz, so DST moves it correctly), and the running
-- cumulative business seconds at the start of the day. See macros/business_time.sql.
with

districts as (
    select * from {{ ref('stg_ref__districts') }}
),

closures as (
    select * from {{ ref('stg_ref__closures') }}
),

days as (
    select
        districts.district_id,
        districts.timezone,
        districts.open_time,
        districts.close_time,
        districts.service_weekdays,
        day_series.local_day::date as local_date
    from districts
    cross join lateral generate_series(
        districts.calendar_start::timestamp, districts.calendar_end::timestamp, interval '1 day'
    ) as day_series (local_day)
),

flagged as (
    select
        days.district_id,
        days.timezone,
        days.local_date,
        extract(isodow from days.local_date)::int = any(days.service_weekdays)
        and closures.closure_date is null as is_service_day,
        closures.closure_reason,
        (days.local_date + days.open_time) at time zone days.timezone as open_at,
        (days.local_date + days.close_time) at time zone days.timezone as close_at
    from days
    left join closures
        on
            days.district_id = closures.district_id
            and days.local_date = closures.closure_date
),

with_seconds as (
    select
        flagged.*,
        case
            when flagged.is_service_day
                then extract(epoch from flagged.close_at - flagged.open_at)::bigint
            else 0
        end as service_seconds
    from flagged
),

final as (
    select
        with_seconds.district_id,
        with_seconds.local_date,
        with_seconds.timezone,
        with_seconds.is_service_day,
        with_seconds.closure_reason,
        with_seconds.open_at,
        with_seconds.close_at,
        with_seconds.service_seconds,
        coalesce(
            sum(with_seconds.service_seconds) over (
                partition by with_seconds.district_id
                order by with_seconds.local_date
                rows between unbounded preceding and 1 preceding
            ),
            0
        )::bigint as cum_seconds_at_day_start,
        {{ school_year('with_seconds.local_date') }} as school_year
    from with_seconds
)

select * from final
