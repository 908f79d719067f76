-- One row per school of the deployment config: its 12-character NCES school id, district, name
-- and the enrollment of the current school year (the as-of date's; the nearest earlier year's
-- where config has none for it, as dim_district). Enrollment per school year, the denominator
-- of a school's volume per 1,000 students, is int_school_enrollment. The central office is no
-- school: an interaction without one has school_id NULL in fct_interactions.
with

schools as (
    select * from {{ ref('stg_ref__schools') }}
),

enrollment as (
    select * from {{ ref('int_school_enrollment') }}
),

as_of as (
    select * from {{ ref('int_as_of') }}
),

final as (
    select
        schools.school_id::text as school_id,
        schools.district_id::text as district_id,
        schools.school_name::text as name,
        enrollment.school_year::integer as enrollment_school_year,
        enrollment.enrollment::integer as enrollment
    from schools
    cross join as_of
    left join enrollment
        on
            schools.school_id = enrollment.school_id
            and enrollment.school_year = {{ school_year('as_of.as_of_date') }}
)

select * from final
