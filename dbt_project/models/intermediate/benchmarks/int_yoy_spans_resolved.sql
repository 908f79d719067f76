-- The two spans year over year compares (docs/metrics.md "Year over year"): this school year to
-- the as-of date, and the same month-days one school year earlier. One row. The as-of date is
-- the project's one (int_as_of: var as_of_date, else the last local date the data covers), so
-- the trend ends on the same day as fct_daily_volume.

with

as_of as (
    select as_of.as_of_date
    from {{ ref('int_as_of') }} as as_of
    where as_of.as_of_date is not null
),

school_year_of_as_of as (
    select
        as_of.as_of_date,
        {{ school_year('as_of.as_of_date') }} as school_year
    from as_of
),

spans as (
    select
        school_year_of_as_of.school_year,
        make_date(school_year_of_as_of.school_year - 1, 7, 1) as span_start,
        school_year_of_as_of.as_of_date as span_end,
        make_date(school_year_of_as_of.school_year - 2, 7, 1) as prior_span_start,
        -- PostgreSQL clamps 29 February minus one year to 28 February, which is exactly the
        -- docs/metrics.md rule; every other month-day maps to itself.
        (school_year_of_as_of.as_of_date - interval '1 year')::date as prior_span_end
    from school_year_of_as_of
)

select * from spans
