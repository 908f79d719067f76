-- Equity gaps (docs/metrics.md "Below the district"): for each language and stakeholder type of
-- a district and period, the difference in median first-response business minutes and in
-- feedback score against the district's largest group of that type (most interactions in the
-- period; `unknown` is never the reference: it is not a group of people but missing data; ties
-- go to the lower key). gap = group value - reference value, so a positive first-response gap
-- means the group waits longer, a negative feedback gap that it rates lower. The n rule: a
-- group or a reference under n observations (interactions for response time, ratings for
-- feedback) has no gap. The unmapped remainder is not a group (it has no row).
{%- set n_min_observations = var('n_min_observations', 30) %}

with

unit_periods as (
    select
        unit_periods.district_id,
        unit_periods.unit_type,
        unit_periods.unit_key,
        unit_periods.period_type,
        unit_periods.period_start,
        unit_periods.interactions,
        unit_periods.rating_count,
        unit_periods.median_first_response_business_minutes,
        unit_periods.feedback_score
    from {{ ref('unit_scorecard') }} as unit_periods
    where
        unit_periods.unit_type in ('language', 'stakeholder_type')
        and not unit_periods.is_unmapped
),

references_chosen as (
    select distinct on (
        unit_periods.district_id, unit_periods.unit_type,
        unit_periods.period_type, unit_periods.period_start
    )
        unit_periods.district_id,
        unit_periods.unit_type,
        unit_periods.period_type,
        unit_periods.period_start,
        unit_periods.unit_key as reference_key,
        unit_periods.interactions as reference_interactions,
        unit_periods.rating_count as reference_rating_count,
        unit_periods.median_first_response_business_minutes as reference_median,
        unit_periods.feedback_score as reference_feedback_score
    from unit_periods
    where unit_periods.unit_key != 'unknown'
    order by
        unit_periods.district_id asc,
        unit_periods.unit_type asc,
        unit_periods.period_type asc,
        unit_periods.period_start asc,
        unit_periods.interactions desc,
        unit_periods.unit_key asc
),

metric_pairs as (
    select
        unit_periods.district_id,
        unit_periods.unit_type,
        unit_periods.unit_key,
        unit_periods.period_type,
        unit_periods.period_start,
        references_chosen.reference_key,
        pairs.metric,
        pairs.group_value,
        pairs.group_observations,
        pairs.reference_value,
        pairs.reference_observations
    from unit_periods
    inner join references_chosen
        on
            unit_periods.district_id = references_chosen.district_id
            and unit_periods.unit_type = references_chosen.unit_type
            and unit_periods.period_type = references_chosen.period_type
            and unit_periods.period_start = references_chosen.period_start
    cross join lateral (
        values
        (
            'median_first_response_business_minutes',
            unit_periods.median_first_response_business_minutes,
            unit_periods.interactions,
            references_chosen.reference_median,
            references_chosen.reference_interactions
        ),
        (
            'feedback_score',
            unit_periods.feedback_score,
            unit_periods.rating_count,
            references_chosen.reference_feedback_score,
            references_chosen.reference_rating_count
        )
    ) as pairs (
        metric, group_value, group_observations, reference_value, reference_observations
    )
),

gaps as (
    select
        metric_pairs.district_id,
        metric_pairs.unit_type,
        metric_pairs.unit_key,
        metric_pairs.metric,
        metric_pairs.period_type,
        metric_pairs.period_start,
        metric_pairs.reference_key,
        metric_pairs.unit_key = metric_pairs.reference_key as is_reference,
        metric_pairs.group_observations::integer as observations,
        metric_pairs.reference_observations::integer as reference_observations,
        -- unit_scorecard already withholds a value under n
        metric_pairs.group_value::numeric as group_value,
        metric_pairs.reference_value::numeric as reference_value,
        case
            when
                metric_pairs.group_observations >= {{ n_min_observations }}
                and metric_pairs.reference_observations >= {{ n_min_observations }}
                then trim_scale(metric_pairs.group_value - metric_pairs.reference_value)
        end as gap,
        case
            when metric_pairs.group_observations < {{ n_min_observations }} then 'unit_below_n'
            when
                metric_pairs.reference_observations < {{ n_min_observations }}
                then 'reference_below_n'
            when
                metric_pairs.group_value is null or metric_pairs.reference_value is null
                then 'no_value'
        end as suppression_reason
    from metric_pairs
)

select * from gaps
