{{ config(materialized='view') }}
-- One row per district and school year of its calendar range: the enrollment of that school
-- year, else of the nearest earlier year in config, else of the earliest (as
-- schoolcx.config.District.enrollment_for).
with

districts as (
    select * from {{ ref('stg_ref__districts') }}
),

enrollment as (
    select * from {{ ref('stg_ref__district_enrollment') }}
),

years as (
    select
        districts.district_id,
        year_series.school_year::int as school_year
    from districts
    cross join lateral generate_series(
        {{ school_year('districts.calendar_start') }},
        {{ school_year('districts.calendar_end') }}
    ) as year_series (school_year)
),

final as (
    select
        years.district_id,
        years.school_year,
        (
            select enrollment.enrollment
            from enrollment
            where enrollment.district_id = years.district_id
            order by
                enrollment.school_year <= years.school_year desc,
                abs(enrollment.school_year - years.school_year) asc
            limit 1
        ) as enrollment
    from years
)

select * from final
