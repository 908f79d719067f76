-- The year-over-year spans of each district (docs/metrics.md "Year over year"), read from its own
-- to-date rows: locally every district has the spans of int_yoy_spans_resolved (the run's one
-- as-of date); at a consortium hub each district's are those of its latest extract, so a
-- district whose extract is a few days older still gets its own trend, not a mislabelled one.

with

district_periods as (
    select
        district_periods.district_id,
        district_periods.period_type,
        district_periods.period_start,
        district_periods.period_end
    from {{ ref('int_benchmark_district_periods') }} as district_periods
    where
        district_periods.period_type in ('school_year_to_date', 'prior_school_year_to_date')
),

spans as (
    select
        current_span.district_id,
        {{ school_year('current_span.period_end') }} as school_year,
        current_span.period_start as span_start,
        current_span.period_end as span_end,
        prior_span.period_start as prior_span_start,
        prior_span.period_end as prior_span_end
    from district_periods as current_span
    left join district_periods as prior_span
        on
            current_span.district_id = prior_span.district_id
            and prior_span.period_type = 'prior_school_year_to_date'
    where current_span.period_type = 'school_year_to_date'
)

select * from spans
