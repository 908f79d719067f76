{{
    config(
        materialized='incremental',
        unique_key=['district_id', 'period_type', 'period_start'],
        post_hook=[
            "{{ delete_vanished_unit_periods(this, ref('district_scorecard')) }}",
            "{{ analyze_when_new(this) }}",
        ]
    )
}}
-- The district scorecard's figures per unit (docs/metrics.md "Below the district"): per district,
-- unit type (school, department, stakeholder_type, channel, language), unit key and period
-- (school year, month, ISO week). A unit's figures are the district's definitions
-- (macros/scorecard.sql, shared with int_district_periods_aggregated) restricted to its
-- interactions. Interactions without a value for a type (no school: the central office or an
-- unmapped source; no department) form that type's remainder row, unit_key '(unmapped)', so the
-- units of one type plus the remainder add up to the district's interactions.
-- One pass: each interaction once per unit type, then one aggregate per unit and period
-- (grouping sets on a full build; on a night, one per period type over its recomputed periods).
-- Incremental by district period: a night recomputes every row of the (district_id,
-- period_type, period_start) groups that can have changed since this table was last written,
-- and replaces them whole (delete+insert on the group key), so a unit that no longer has
-- interactions in a recomputed period vanishes with it; the post-hook deletes the groups whose
-- period has no interaction any more. A full build computes every group the same way. A group
-- is recomputed when
-- - one of its interactions was (re)written since this table was last written: its
--   fct_interactions row (new or updated, or still waiting on its SLA: fct_interactions
--   rewrites those every night, without a new load) or its fct_ratings row (a rating landing
--   or replaced late for an old interaction changes that old period);
-- - the district figures it copies differ from district_scorecard's (built in full each run):
--   period_end, service_days and district_interactions move with the as-of date (a new day's
--   service day, interactions dated after the last as-of date), district_interactions and the
--   rating count with a deletion (fct_interactions and fct_ratings drop a quarantined record
--   and leave no newer row to find); a new period has no row here yet.
-- "Written since": the row's xmin (the transaction that wrote it) is younger than this table's
-- youngest, its last build's. Load times (last_loaded_at) would miss an SLA that elapsed
-- without a load, and this table keeps no load time of its own. An emptied table (unlogged:
-- after a crash) recomputes every period. Changes to ref.* (schools, enrollment, calendar) and
-- to the code rebuild it in full (schoolcx.refchange).
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
        district_periods.service_days,
        district_periods.rating_count
    from {{ ref('district_scorecard') }} as district_periods
),

{%- if is_incremental() %}

last_build as (
    -- the age of the transaction that last wrote this table; no row: everything is newer
    select coalesce(min(age(stored.xmin)), 2147483647) as xid_age
    from {{ this }} as stored
),

rewritten_dates as (
    -- the dates of the interactions whose fact row or rating was written since
    select
        rewritten.district_id,
        rewritten.local_date
    from {{ ref('fct_interactions') }} as rewritten
    cross join last_build
    where age(rewritten.xmin) < last_build.xid_age

    union

    select
        rated.district_id,
        rated.local_date
    from {{ ref('fct_ratings') }} as rerated
    cross join last_build
    inner join {{ ref('fct_interactions') }} as rated
        on rerated.interaction_key = rated.interaction_key
    where age(rerated.xmin) < last_build.xid_age
),

rewritten_periods as (
    select
        rewritten_dates.district_id,
        'school_year' as period_type,
        make_date({{ school_year('rewritten_dates.local_date') }} - 1, 7, 1) as period_start
    from rewritten_dates

    union

    select
        rewritten_dates.district_id,
        'month' as period_type,
        {{ dbt.date_trunc('month', 'cast(rewritten_dates.local_date as timestamp)') }}::date
            as period_start
    from rewritten_dates

    union

    select
        rewritten_dates.district_id,
        'week' as period_type,
        date_trunc('week', rewritten_dates.local_date::timestamp)::date as period_start
    from rewritten_dates
),

stored_periods as (
    -- what this table holds per group: the district's figures are the same on each of its
    -- rows, and any one unit type's rating counts add up to the district's
    select
        stored.district_id,
        stored.period_type,
        stored.period_start,
        max(stored.period_end) as period_end,
        max(stored.service_days) as service_days,
        max(stored.district_interactions) as district_interactions,
        sum(stored.rating_count) filter (where stored.unit_type = 'channel') as rating_count
    from {{ this }} as stored
    group by stored.district_id, stored.period_type, stored.period_start
),
{%- endif %}

computed_periods as (
    -- The groups this run computes: every district period with interactions on a full build
    -- (a period without any has no unit row), those that can have changed on a night.
    {%- if is_incremental() %}
    select
        district_periods.district_id,
        district_periods.period_type,
        district_periods.period_start,
        district_periods.period_end
    from district_periods
    left join stored_periods
        on
            district_periods.district_id = stored_periods.district_id
            and district_periods.period_type = stored_periods.period_type
            and district_periods.period_start = stored_periods.period_start
    left join rewritten_periods
        on
            district_periods.district_id = rewritten_periods.district_id
            and district_periods.period_type = rewritten_periods.period_type
            and district_periods.period_start = rewritten_periods.period_start
    where
        district_periods.interactions > 0
        and (
            rewritten_periods.district_id is not null
            or stored_periods.district_id is null
            or district_periods.period_end is distinct from stored_periods.period_end
            or district_periods.service_days is distinct from stored_periods.service_days
            or district_periods.interactions is distinct from stored_periods.district_interactions
            or district_periods.rating_count is distinct from stored_periods.rating_count
        )
    {%- else %}
    select
        district_periods.district_id,
        district_periods.period_type,
        district_periods.period_start,
        district_periods.period_end
    from district_periods
    where district_periods.interactions > 0
    {%- endif %}
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
        ratings.rating_1_5,
        -- its periods (date_trunc on timestamp, not timestamptz: no time zone arithmetic)
        make_date({{ school_year('interactions.local_date') }} - 1, 7, 1) as school_year_start,
        {{ dbt.date_trunc('month', 'cast(interactions.local_date as timestamp)') }}::date
            as month_start,
        date_trunc('week', interactions.local_date::timestamp)::date as week_start
    from {{ ref('fct_interactions') }} as interactions
    cross join as_of
    left join {{ ref('fct_ratings') }} as ratings
        on interactions.interaction_key = ratings.interaction_key
    where
        interactions.local_date <= as_of.as_of_date
    {% if is_incremental() -%}
    -- in a recomputed period: an index range per period, not the whole history
    and exists (
        select 1
        from computed_periods
        where
            computed_periods.district_id = interactions.district_id
            and interactions.local_date
            between computed_periods.period_start and computed_periods.period_end
    )
    {%- endif %}
),

{%- if is_incremental() %}

units_by_period as (
    -- Per period type, each interaction of a recomputed period once per unit type (a missing
    -- value is the type's remainder, never dropped), then one aggregate per unit and period.
    -- An interaction of a changed week is not counted into its unchanged month, and the
    -- months and weeks of the school year are not sorted again with it.
    {%- for period_type, period_column in [
        ('school_year', 'school_year_start'), ('month', 'month_start'), ('week', 'week_start')
    ] %}
    select
        interactions.district_id,
        units.unit_type,
        coalesce(units.unit_key, '(unmapped)') as unit_key,
        '{{ period_type }}' as period_type,
        interactions.{{ period_column }} as period_start,
        {{ scorecard_aggregates('interactions') }}
    from interactions
    {{ unit_types_of('interactions') }}
    where (interactions.district_id, interactions.{{ period_column }}) in (
        select
            computed_periods.district_id,
            computed_periods.period_start
        from computed_periods
        where computed_periods.period_type = '{{ period_type }}'
    )
    group by
        interactions.district_id,
        units.unit_type,
        coalesce(units.unit_key, '(unmapped)'),
        interactions.{{ period_column }}
    {%- if not loop.last %}

    union all
    {% endif %}
    {%- endfor %}
),
{%- else %}

interaction_units as (
    -- A full build: each interaction once per unit type, with its periods as columns (one
    -- grouping-sets aggregate below sorts each period type's rows in memory; the three
    -- aggregates of a night, over every period, took 40 % longer). A missing value is the
    -- type's remainder, never dropped.
    select
        interactions.district_id,
        units.unit_type,
        coalesce(units.unit_key, '(unmapped)') as unit_key,
        interactions.high_risk,
        interactions.first_response_at,
        interactions.first_response_business_minutes,
        interactions.sla_met,
        interactions.rating_1_5,
        interactions.school_year_start,
        interactions.month_start,
        interactions.week_start
    from interactions
    {{ unit_types_of('interactions') }}
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
        units_grouped.first_response_percentiles,
        units_grouped.sla_evaluated_interactions,
        units_grouped.sla_met_interactions,
        units_grouped.rating_count,
        units_grouped.mean_rating_1_5,
        units_grouped.positive_ratings
    from units_grouped
),
{%- endif %}

quiet_schools as (
    -- A configured school with no contact in a period the district had contacts in is a row
    -- of zeros (a principal looks for the school; it is not missing data).
    select
        computed_periods.district_id,
        'school' as unit_type,
        schools.school_id as unit_key,
        computed_periods.period_type,
        computed_periods.period_start
    from computed_periods
    inner join schools
        on computed_periods.district_id = schools.district_id
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
        units_by_period.first_response_percentiles[1] as median_first_response_business_minutes,
        units_by_period.first_response_percentiles[2] as p90_first_response_business_minutes,
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

school_enrollment_by_period as materialized (
    -- A school's enrollment for a period: that of the school year the period starts in, else
    -- the nearest earlier configured year, else the earliest (the district's rule).
    -- Materialized: on a night the planner estimates a row or two of unit periods and would
    -- run this lateral lookup once per unit row (the demo's second night: 22M lookups, 71 s
    -- instead of 2 s); computed once, it is a hash join.
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
