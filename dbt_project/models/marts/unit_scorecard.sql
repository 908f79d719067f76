-- The district scorecard's figures per unit (docs/metrics.md "Below the district"): per district,
-- unit type (school, department, stakeholder_type, channel, language), unit key and period
-- (school year, month, ISO week). A unit's figures are the district's definitions
-- (macros/scorecard.sql, shared with int_district_periods_aggregated) restricted to its
-- interactions. Interactions without a value for a type (no school: the central office or an
-- unmapped source; no department) form that type's remainder row, unit_key '(unmapped)', so the
-- units of one type plus the remainder add up to the district's interactions.
-- One pass: each interaction once per unit type, then one grouping-sets aggregate per period.
{%- set n_min_observations = var('n_min_observations', 30) %}

with

as_of as (
    select as_of.as_of_date from {{ ref('int_as_of') }} as as_of
),

district_periods as (
    select
        district_periods.district_id,
        district_periods.period_type,
        district_periods.period_start,
        district_periods.period_end,
        district_periods.interactions,
        district_periods.service_days
    from {{ ref('district_scorecard') }} as district_periods
),

schools as (
    select
        schools.school_id,
        schools.district_id
    from {{ ref('stg_ref__schools') }} as schools
),

school_enrollment as (
    select
        school_enrollment.school_id,
        school_enrollment.school_year,
        school_enrollment.enrollment
    from {{ ref('stg_ref__school_enrollment') }} as school_enrollment
),

interactions as (
    -- What the run's as-of date covers, as for the district's figures.
    select
        interactions.district_id,
        interactions.local_date,
        interactions.school_id,
        interactions.department,
        interactions.stakeholder_type,
        interactions.channel,
        interactions.language,
        interactions.high_risk,
        interactions.first_response_at,
        interactions.first_response_business_minutes,
        interactions.sla_met,
        ratings.rating_1_5
    from {{ ref('fct_interactions') }} as interactions
    cross join as_of
    left join {{ ref('fct_ratings') }} as ratings
        on interactions.interaction_key = ratings.interaction_key
    where interactions.local_date <= as_of.as_of_date
),

interaction_units as (
    -- Each interaction once per unit type, with its periods as columns (one sort per period
    -- type below). A missing value is the type's remainder, never dropped.
    select
        interactions.district_id,
        units.unit_type,
        coalesce(units.unit_key, '(unmapped)') as unit_key,
        interactions.high_risk,
        interactions.first_response_at,
        interactions.first_response_business_minutes,
        interactions.sla_met,
        interactions.rating_1_5,
        make_date({{ school_year('interactions.local_date') }} - 1, 7, 1) as school_year_start,
        {{ dbt.date_trunc('month', 'cast(interactions.local_date as timestamp)') }}::date
            as month_start,
        date_trunc('week', interactions.local_date::timestamp)::date as week_start
    from interactions
    cross join lateral (
        values
        ('school', interactions.school_id),
        ('department', interactions.department),
        ('stakeholder_type', interactions.stakeholder_type),
        ('channel', interactions.channel),
        ('language', interactions.language)
    ) as units (unit_type, unit_key)
),

units_grouped as (
    select
        interaction_units.district_id,
        interaction_units.unit_type,
        interaction_units.unit_key,
        interaction_units.school_year_start,
        interaction_units.month_start,
        interaction_units.week_start,
        grouping(
            interaction_units.school_year_start,
            interaction_units.month_start,
            interaction_units.week_start
        ) as grouping_mask,
        {{ scorecard_aggregates('interaction_units') }}
    from interaction_units
    group by grouping sets (
        (
            interaction_units.district_id,
            interaction_units.unit_type,
            interaction_units.unit_key,
            interaction_units.school_year_start
        ),
        (
            interaction_units.district_id,
            interaction_units.unit_type,
            interaction_units.unit_key,
            interaction_units.month_start
        ),
        (
            interaction_units.district_id,
            interaction_units.unit_type,
            interaction_units.unit_key,
            interaction_units.week_start
        )
    )
),

units_by_period as (
    -- grouping_mask has a bit per period key left out, the first highest: 3 = by school year,
    -- 5 = by month, 6 = by week
    select
        units_grouped.district_id,
        units_grouped.unit_type,
        units_grouped.unit_key,
        case units_grouped.grouping_mask
            when 3 then 'school_year'
            when 5 then 'month'
            when 6 then 'week'
        end as period_type,
        case units_grouped.grouping_mask
            when 3 then units_grouped.school_year_start
            when 5 then units_grouped.month_start
            when 6 then units_grouped.week_start
        end as period_start,
        units_grouped.interactions,
        units_grouped.high_risk_interactions,
        units_grouped.answered_interactions,
        units_grouped.first_response_percentiles[1] as median_first_response_business_minutes,
        units_grouped.first_response_percentiles[2] as p90_first_response_business_minutes,
        units_grouped.sla_evaluated_interactions,
        units_grouped.sla_met_interactions,
        units_grouped.rating_count,
        units_grouped.mean_rating_1_5,
        units_grouped.positive_ratings
    from units_grouped
),

quiet_schools as (
    -- A configured school with no contact in a period the district had contacts in is a row
    -- of zeros (a principal looks for the school; it is not missing data).
    select
        district_periods.district_id,
        'school' as unit_type,
        schools.school_id as unit_key,
        district_periods.period_type,
        district_periods.period_start
    from district_periods
    inner join schools
        on district_periods.district_id = schools.district_id
    where district_periods.interactions > 0
),

unit_periods as (
    select
        units_by_period.district_id,
        units_by_period.unit_type,
        units_by_period.unit_key,
        units_by_period.period_type,
        units_by_period.period_start,
        units_by_period.interactions,
        units_by_period.high_risk_interactions,
        units_by_period.answered_interactions,
        units_by_period.median_first_response_business_minutes,
        units_by_period.p90_first_response_business_minutes,
        units_by_period.sla_evaluated_interactions,
        units_by_period.sla_met_interactions,
        units_by_period.rating_count,
        units_by_period.mean_rating_1_5,
        units_by_period.positive_ratings
    from units_by_period

    union all

    select
        quiet_schools.district_id,
        quiet_schools.unit_type,
        quiet_schools.unit_key,
        quiet_schools.period_type,
        quiet_schools.period_start,
        0 as interactions,
        0 as high_risk_interactions,
        0 as answered_interactions,
        null as median_first_response_business_minutes,
        null as p90_first_response_business_minutes,
        0 as sla_evaluated_interactions,
        0 as sla_met_interactions,
        0 as rating_count,
        null as mean_rating_1_5,
        0 as positive_ratings
    from quiet_schools
    where not exists (
        select 1
        from units_by_period
        where
            units_by_period.district_id = quiet_schools.district_id
            and units_by_period.unit_type = 'school'
            and units_by_period.unit_key = quiet_schools.unit_key
            and units_by_period.period_type = quiet_schools.period_type
            and units_by_period.period_start = quiet_schools.period_start
    )
),

school_periods as (
    select distinct
        unit_periods.unit_key as school_id,
        unit_periods.period_start,
        {{ school_year('unit_periods.period_start') }} as school_year
    from unit_periods
    where unit_periods.unit_type = 'school'
),

school_enrollment_by_period as (
    -- A school's enrollment for a period: that of the school year the period starts in, else
    -- the nearest earlier configured year, else the earliest (the district's rule).
    select
        school_periods.school_id,
        school_periods.period_start,
        resolved.enrollment
    from school_periods
    cross join lateral (
        select school_enrollment.enrollment
        from school_enrollment
        where school_enrollment.school_id = school_periods.school_id
        order by
            school_enrollment.school_year <= school_periods.school_year desc,
            abs(school_enrollment.school_year - school_periods.school_year) asc
        limit 1
    ) as resolved
),

joined as (
    select
        unit_periods.district_id,
        unit_periods.unit_type,
        unit_periods.unit_key,
        unit_periods.unit_key = '(unmapped)' as is_unmapped,
        unit_periods.period_type,
        unit_periods.period_start,
        district_periods.period_end,
        district_periods.service_days,
        school_enrollment_by_period.enrollment,
        district_periods.interactions as district_interactions,
        unit_periods.interactions,
        unit_periods.high_risk_interactions,
        unit_periods.answered_interactions,
        unit_periods.median_first_response_business_minutes,
        unit_periods.p90_first_response_business_minutes,
        unit_periods.sla_evaluated_interactions,
        unit_periods.sla_met_interactions,
        unit_periods.rating_count,
        unit_periods.mean_rating_1_5,
        unit_periods.positive_ratings,
        unit_periods.interactions >= {{ n_min_observations }} as interactions_meet_n,
        unit_periods.rating_count >= {{ n_min_observations }} as ratings_meet_n
    from unit_periods
    inner join district_periods
        on
            unit_periods.district_id = district_periods.district_id
            and unit_periods.period_type = district_periods.period_type
            and unit_periods.period_start = district_periods.period_start
    left join school_enrollment_by_period
        on
            unit_periods.unit_type = 'school'
            and unit_periods.unit_key = school_enrollment_by_period.school_id
            and unit_periods.period_start = school_enrollment_by_period.period_start
),

figures as (
    select
        joined.district_id,
        joined.unit_type,
        joined.unit_key,
        joined.is_unmapped,
        joined.period_type,
        joined.period_start,
        joined.period_end,
        joined.enrollment,
        joined.interactions::integer as interactions,
        joined.district_interactions::integer as district_interactions,
        -- the unit's part of the district's contacts: on the remainder row, how much is unmapped
        trim_scale(joined.interactions::numeric / nullif(joined.district_interactions, 0))
            as share_of_district_interactions,
        joined.service_days::integer as service_days,
        -- schools only: the other unit types have no students of their own
        {{ volume_per_1000_students_per_service_day(
            'joined.interactions', 'joined.service_days', 'joined.enrollment'
        ) }} as interactions_per_1000_students_per_service_day,
        {{ scorecard_rates('joined') }},
        joined.rating_count::integer as rating_count,
        joined.interactions_meet_n,
        joined.ratings_meet_n
    from joined
),

suppressed as (
    -- The n rule (docs/metrics.md "Below the district"): a unit under n interactions shows its
    -- counts (and volume, a count per student) but no response, SLA or high-risk figure; under
    -- n ratings, no feedback figure.
    select
        figures.district_id,
        figures.unit_type,
        figures.unit_key,
        figures.is_unmapped,
        figures.period_type,
        figures.period_start,
        figures.period_end,
        figures.enrollment,
        figures.interactions,
        figures.district_interactions,
        figures.share_of_district_interactions,
        figures.service_days,
        figures.interactions_per_1000_students_per_service_day,
        case when figures.interactions_meet_n then figures.high_risk_share end as high_risk_share,
        case when figures.interactions_meet_n then figures.answered_share end as answered_share,
        case
            when figures.interactions_meet_n then figures.median_first_response_business_minutes
        end as median_first_response_business_minutes,
        case
            when figures.interactions_meet_n then figures.p90_first_response_business_minutes
        end as p90_first_response_business_minutes,
        case when figures.interactions_meet_n then figures.sla_met_share end as sla_met_share,
        case when figures.ratings_meet_n then figures.feedback_score end as feedback_score,
        case when figures.ratings_meet_n then figures.positive_share end as positive_share,
        figures.rating_count,
        case
            when not figures.interactions_meet_n then 'unit_below_n'
            when not figures.ratings_meet_n then 'ratings_below_n'
        end as suppression_reason
    from figures
)

select * from suppressed
