{{ config(materialized='view') }}
-- One row per school and school year of its district's calendar range: the school's enrollment
-- of that school year, else of the nearest earlier year in config, else of the earliest (as the
-- district's, int_district_enrollment). NULL for a school the config gives no enrollment: its
-- volume per 1,000 students is then NULL, not divided by a guess.
with

schools as (
    select * from {{ ref('stg_ref__schools') }}
),

districts as (
    select * from {{ ref('stg_ref__districts') }}
),

enrollment as (
    select * from {{ ref('stg_ref__school_enrollment') }}
),

years as (
    select
        schools.school_id,
        schools.district_id,
        year_series.school_year::int as school_year
    from schools
    inner join districts
        on schools.district_id = districts.district_id
    cross join lateral generate_series(
        {{ school_year('districts.calendar_start') }},
        {{ school_year('districts.calendar_end') }}
    ) as year_series (school_year)
),

final as (
    select
        years.school_id,
        years.district_id,
        years.school_year,
        (
            select enrollment.enrollment
            from enrollment
            where enrollment.school_id = years.school_id
            order by
                enrollment.school_year <= years.school_year desc,
                abs(enrollment.school_year - years.school_year) asc
            limit 1
        ) as enrollment
    from years
)

select * from final
