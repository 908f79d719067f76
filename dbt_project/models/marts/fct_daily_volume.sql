{{
    config(
        materialized='incremental',
        unique_key=['district_id', 'local_date'],
        indexes=[{'columns': ['district_id', 'local_date'], 'unique': True}],
        post_hook=["{{ analyze_when_new(this) }}"]
    )
}}
-- One row per district and local date from its earliest interaction source's start_date up to
-- the as-of date (zero-contact days included): interactions created that local date, of which high-risk, and per 1,000
-- students (enrollment of the date's school year). Incremental: the last stored date and later,
-- every date with an interaction (valid or quarantined) loaded since the watermark, and every
-- date whose stored count no longer matches the facts are recomputed.
with

calendar_days as (
    select * from {{ ref('int_calendar_days') }}
),

as_of as (
    select * from {{ ref('int_as_of') }}
),

coverage as (
    -- a district is observed from its earliest source's start_date: earlier dates are not
    -- zero-contact days but unobserved ones
    select
        sources.district_id,
        min(sources.start_date) as observed_from
    from {{ ref('stg_ref__sources') }} as sources
    where sources.source_type not in ('qualtrics', 'surveymonkey')
    group by sources.district_id
),

enrollment as (
    select * from {{ ref('int_district_enrollment') }}
),

interactions as (
    select * from {{ ref('fct_interactions') }}
),

all_interactions as (
    -- valid and quarantined: a date whose interaction was quarantined since must be recounted
    select * from {{ ref('int_interactions_unioned') }}
),

days as (
    select
        calendar_days.district_id,
        calendar_days.local_date,
        calendar_days.school_year,
        calendar_days.is_service_day
    from calendar_days
    cross join as_of
    inner join coverage
        on calendar_days.district_id = coverage.district_id
    where
        calendar_days.local_date <= as_of.as_of_date
        and calendar_days.local_date >= coverage.observed_from
    {%- if is_incremental() %}
    and (
        calendar_days.local_date >= (
            select coalesce(max(this_run.local_date), '-infinity')
            from {{ this }} as this_run
        )
        or (calendar_days.district_id, calendar_days.local_date) in (
            -- dates with an interaction (valid or quarantined) loaded since the watermark
            select
                changed.district_id,
                changed.local_date
            from all_interactions as changed
            where changed.last_loaded_at > {{ incremental_watermark('last_loaded_at') }}
            union all
            -- dates whose count changed otherwise (an interaction gone since: a ticket
            -- deleted, or quarantined); an index-only count of the facts
            select
                stored.district_id,
                stored.local_date
            from {{ this }} as stored
            left join (
                select
                    interactions.district_id,
                    interactions.local_date,
                    count(*) as interactions
                from interactions
                group by interactions.district_id, interactions.local_date
                ) as current_counts
                on
                    stored.district_id = current_counts.district_id
                    and stored.local_date = current_counts.local_date
            where stored.interactions != coalesce(current_counts.interactions, 0)
        )
    )
    {%- endif %}
),

counts as (
    select
        interactions.district_id,
        interactions.local_date,
        count(*) as interactions,
        count(*) filter (where interactions.high_risk) as high_risk_interactions,
        max(interactions.last_loaded_at) as last_loaded_at
    from interactions
    inner join days
        on
            interactions.district_id = days.district_id
            and interactions.local_date = days.local_date
    group by interactions.district_id, interactions.local_date
),

final as (
    select
        days.district_id::text as district_id,
        days.local_date::date as local_date,
        days.school_year::integer as school_year,
        days.is_service_day::boolean as is_service_day,
        coalesce(counts.interactions, 0)::integer as interactions,
        coalesce(counts.high_risk_interactions, 0)::integer as high_risk_interactions,
        enrollment.enrollment::integer as enrollment,
        (coalesce(counts.interactions, 0) * 1000.0 / enrollment.enrollment)::numeric
            as interactions_per_1000_students,
        counts.last_loaded_at::timestamptz as last_loaded_at
    from days
    inner join enrollment
        on
            days.district_id = enrollment.district_id
            and days.school_year = enrollment.school_year
    left join counts
        on
            days.district_id = counts.district_id
            and days.local_date = counts.local_date
)

select * from final
