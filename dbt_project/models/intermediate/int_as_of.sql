{{ config(materialized='view') }}
-- The run's as-of date (one row): var('as_of_date') when given, else the last local date with
-- an interaction (docs/metrics.md "Year over year": the last local date the data covers).
-- The nightly run gives it (schoolcx.asof): the last local date that has fully ended by the
-- data interval's end in every district's time zone, i.e. the earliest district's, so Hawaii
-- (UTC-10) and Alaska in winter (UTC-9) are never shown a day that has not ended there at
-- 08:00 UTC. One date for all districts: peers and year-over-year spans compare like periods.
with

-- unused when as_of_date is given
interactions as (  -- noqa: ST03
    select * from {{ ref('int_interactions_unioned') }}
),

final as (
    select
        {% if var('as_of_date') -%}
        '{{ var("as_of_date") }}'::date
        {%- else -%}
        coalesce(
            (
                select max(interactions.local_date)
                from interactions
                where interactions.reject_reason is null
            ),
            current_date
        )
        {%- endif %} as as_of_date
)

select * from final
