-- The worked cases of examples/business_minutes.csv, computed with the facts' own business-time
-- code (int_calendar_days + macros/business_time.sql) for every district whose calendar matches
-- the case's (same zone and hours, every listed closure present). Returns the cases off by 0.01
-- minute or more. Deployments without a matching district check nothing here; the pytest
-- fixture config has one district per example calendar.
with

examples as (
    select * from {{ ref('business_minutes_examples') }}
),

districts as (
    select * from {{ ref('stg_ref__districts') }}
),

closures as (
    select * from {{ ref('stg_ref__closures') }}
),

calendar_days as (
    select * from {{ ref('int_calendar_days') }}
),

matched as (
    select
        examples.*,
        districts.district_id
    from examples
    inner join districts
        on
            examples.timezone = districts.timezone
            and examples.open::time = districts.open_time
            and examples.close::time = districts.close_time
    where not exists (
        select 1
        from unnest(string_to_array(coalesce(examples.district_closures, ''), ' ')) as listed (day)
        where
            listed.day != ''
            and not exists (
                select 1
                from closures
                where
                    closures.district_id = districts.district_id
                    and closures.closure_date = listed.day::date
            )
    )
),

computed as (
    select
        matched.*,
        {{ business_minutes_between('day0', 'matched.t0_utc', 'day1', 'matched.t1_utc') }}
            as computed_business_minutes,
        {{ calendar_minutes_between('matched.t0_utc', 'matched.t1_utc') }}
            as computed_calendar_minutes
    from matched
    left join calendar_days as day0
        on
            matched.district_id = day0.district_id
            and {{ local_date('matched.t0_utc', 'matched.timezone') }} = day0.local_date
    left join calendar_days as day1
        on
            matched.district_id = day1.district_id
            and {{ local_date('matched.t1_utc', 'matched.timezone') }} = day1.local_date
)

select computed.*
from computed
where
    computed.computed_business_minutes is null
    or abs(computed.computed_business_minutes - computed.business_minutes) >= 0.01
    or abs(computed.computed_calendar_minutes - computed.calendar_minutes) >= 0.01
