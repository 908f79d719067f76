-- Year over year (docs/metrics.md): each district's metric over this school year to the as-of date
-- against the same month-days of the prior school year, with each span's own service days and
-- enrollment (computed upstream in int_district_periods_aggregated).
{%- set n_min_observations = var('n_min_observations', 30) %}

with

spans as (
    -- each district's own spans: the run's as-of locally, its latest extract's at a hub
    select
        yoy_spans.district_id,
        yoy_spans.school_year,
        yoy_spans.span_start,
        yoy_spans.span_end
    from {{ ref('int_benchmark_yoy_spans') }} as yoy_spans
),

metric_values as (
    -- Survey items are per whole school year, so they have no to-date span and no trend here.
    select
        metric_values.district_id,
        metric_values.period_type,
        metric_values.metric,
        metric_values.metric_value,
        metric_values.observations,
        metric_values.direction
    from {{ ref('int_benchmark_metric_values') }} as metric_values
    where metric_values.period_type in ('school_year_to_date', 'prior_school_year_to_date')
),

current_span as (
    select metric_values.* from metric_values
    where metric_values.period_type = 'school_year_to_date'
),

prior_span as (
    select metric_values.* from metric_values
    where metric_values.period_type = 'prior_school_year_to_date'
),

compared as (
    select
        current_span.district_id,
        current_span.metric,
        spans.school_year,
        spans.span_start,
        spans.span_end,
        current_span.metric_value as current_value,
        prior_span.metric_value as prior_value,
        current_span.direction,
        current_span.metric_value - prior_span.metric_value as value_change,
        -- The n rule on both spans: a missing prior span has no observations.
        (
            current_span.observations >= {{ n_min_observations }}
            and coalesce(prior_span.observations, 0) >= {{ n_min_observations }}
        ) as both_spans_meet_n
    from current_span
    inner join spans
        on current_span.district_id = spans.district_id
    left join prior_span
        on
            current_span.district_id = prior_span.district_id
            and current_span.metric = prior_span.metric
),

trends as (
    select
        compared.district_id,
        compared.metric,
        compared.school_year,
        compared.span_start,
        compared.span_end,
        compared.current_value,
        compared.prior_value,
        case when compared.both_spans_meet_n then compared.value_change end as change,
        case
            when compared.both_spans_meet_n and compared.prior_value != 0
                then trim_scale(compared.value_change * 100 / compared.prior_value)
        end as pct_change,
        case
            when
                not compared.both_spans_meet_n
                or compared.prior_value is null
                or compared.prior_value = 0
                or compared.value_change is null
                or compared.direction is null
                then null
            when abs(compared.value_change) < 0.02 * abs(compared.prior_value)
                then 'steady'
            when (compared.value_change > 0) = (compared.direction = 'higher_is_better')
                then 'improving'
            else 'declining'
        end as direction
    from compared
)

select * from trends
