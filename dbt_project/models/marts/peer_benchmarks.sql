-- Each district's metric against its peer group (docs/metrics.md "Peer benchmarks"), per school
-- year, month and ISO week, with survey items per school year. Privacy: only aggregates of
-- groups with at least k districts that each have at least n observations are published.
-- The same model runs in a district's deployment and at a consortium hub: its inputs (the
-- int_benchmark_* seam models and dim_district) switch on var benchmark_input.
{%- set k_min_districts = var('k_min_districts', 5) %}
{%- set n_min_observations = var('n_min_observations', 30) %}

with

metric_values as (
    select
        metric_values.district_id,
        metric_values.metric,
        metric_values.period_type,
        metric_values.period_start,
        metric_values.metric_value,
        metric_values.observations,
        metric_values.direction,
        (
            metric_values.observations >= {{ n_min_observations }}
            and metric_values.metric_value is not null
        ) as meets_n
    from {{ ref('int_benchmark_metric_values') }} as metric_values
    where metric_values.period_type in ('school_year', 'month', 'week')
),

districts as (
    select
        districts.district_id,
        districts.state,
        districts.consortium_ids
    from {{ ref('dim_district') }} as districts
),

district_periods as (
    -- A district's enrollment band is that of the period (the enrollment its volume per
    -- student is measured against: a week takes the school year it starts in), not today's: a
    -- district that grew changes peers from the year it grew.
    select
        district_periods.district_id,
        district_periods.period_type,
        district_periods.period_start,
        {{ enrollment_band('district_periods.enrollment') }} as enrollment_band
    from {{ ref('int_benchmark_district_periods') }} as district_periods
    where
        district_periods.period_type in ('school_year', 'month', 'week')
        and district_periods.enrollment is not null
),

district_consortiums as (
    select
        district_periods.district_id,
        district_periods.period_type,
        district_periods.period_start,
        district_periods.enrollment_band,
        memberships.consortium_id
    from district_periods
    inner join districts
        on district_periods.district_id = districts.district_id
    cross join lateral unnest(districts.consortium_ids) as memberships (consortium_id)
),

district_groups as (
    -- Every peer group a district belongs to in a period; group_level orders them narrowest
    -- first. A district in several consortiums belongs to one group per consortium at levels
    -- 1-2.
    select
        district_consortiums.district_id,
        district_consortiums.period_type,
        district_consortiums.period_start,
        1 as group_level,
        'consortium_and_enrollment_band' as peer_group,
        district_consortiums.consortium_id || ' / ' || district_consortiums.enrollment_band
            as peer_group_key
    from district_consortiums

    union all

    select
        district_consortiums.district_id,
        district_consortiums.period_type,
        district_consortiums.period_start,
        2 as group_level,
        'consortium' as peer_group,
        district_consortiums.consortium_id as peer_group_key
    from district_consortiums

    union all

    select
        district_periods.district_id,
        district_periods.period_type,
        district_periods.period_start,
        3 as group_level,
        'state_and_enrollment_band' as peer_group,
        districts.state || ' / ' || district_periods.enrollment_band as peer_group_key
    from district_periods
    inner join districts
        on district_periods.district_id = districts.district_id

    union all

    select
        district_periods.district_id,
        district_periods.period_type,
        district_periods.period_start,
        4 as group_level,
        'all_districts' as peer_group,
        'all' as peer_group_key
    from district_periods
),

memberships as (
    -- Each district's value in every peer group it belongs to, for every metric and period.
    select
        metric_values.district_id,
        metric_values.metric,
        metric_values.period_type,
        metric_values.period_start,
        metric_values.metric_value,
        metric_values.direction,
        metric_values.meets_n,
        district_groups.group_level,
        district_groups.peer_group,
        district_groups.peer_group_key
    from metric_values
    inner join district_groups
        on
            metric_values.district_id = district_groups.district_id
            and metric_values.period_type = district_groups.period_type
            and metric_values.period_start = district_groups.period_start
),

memberships_counted as (
    -- Window counts over the districts that meet n (and have a value): only they enter a
    -- group's statistics and ranks. Windows, not self-joins, keep this linear in the rows.
    select
        memberships.*,
        count(*) filter (where memberships.meets_n) over peer_group_period as n_districts,
        -- ORDER BY with the default RANGE frame counts ties: districts at or below the value.
        count(*) filter (where memberships.meets_n) over (
            peer_group_period order by memberships.metric_value asc
        ) as qualifying_at_or_below,
        count(*) filter (where memberships.meets_n) over (
            partition by
                memberships.peer_group,
                memberships.peer_group_key,
                memberships.metric,
                memberships.period_type,
                memberships.period_start,
                memberships.metric_value
        ) as qualifying_equal
    from memberships
    window peer_group_period as (
        partition by
            memberships.peer_group,
            memberships.peer_group_key,
            memberships.metric,
            memberships.period_type,
            memberships.period_start
    )
),

percentile_bounds as (
    -- percentile_cont is an ordered-set aggregate, not a window function, so its linear
    -- interpolation is written out: position p * (n - 1) among the qualifying values in
    -- ascending order (qualifying rows sort first), between the values at floor and ceil.
    -- Same figures as percentile_cont, computed in numeric. The district itself is among the
    -- qualifying values when it meets n: docs/metrics.md gives the percentiles of the group.
    select
        memberships_counted.*,
        0.25 * greatest(memberships_counted.n_districts - 1, 0) as p25_position,
        nth_value(
            memberships_counted.metric_value,
            floor(0.25 * greatest(memberships_counted.n_districts - 1, 0))::integer + 1
        ) over qualifying_values_ascending as p25_lower_value,
        nth_value(
            memberships_counted.metric_value,
            ceil(0.25 * greatest(memberships_counted.n_districts - 1, 0))::integer + 1
        ) over qualifying_values_ascending as p25_upper_value,
        0.5 * greatest(memberships_counted.n_districts - 1, 0) as median_position,
        nth_value(
            memberships_counted.metric_value,
            floor(0.5 * greatest(memberships_counted.n_districts - 1, 0))::integer + 1
        ) over qualifying_values_ascending as median_lower_value,
        nth_value(
            memberships_counted.metric_value,
            ceil(0.5 * greatest(memberships_counted.n_districts - 1, 0))::integer + 1
        ) over qualifying_values_ascending as median_upper_value,
        0.75 * greatest(memberships_counted.n_districts - 1, 0) as p75_position,
        nth_value(
            memberships_counted.metric_value,
            floor(0.75 * greatest(memberships_counted.n_districts - 1, 0))::integer + 1
        ) over qualifying_values_ascending as p75_lower_value,
        nth_value(
            memberships_counted.metric_value,
            ceil(0.75 * greatest(memberships_counted.n_districts - 1, 0))::integer + 1
        ) over qualifying_values_ascending as p75_upper_value
    from memberships_counted
    window qualifying_values_ascending as (
        partition by
            memberships_counted.peer_group,
            memberships_counted.peer_group_key,
            memberships_counted.metric,
            memberships_counted.period_type,
            memberships_counted.period_start
        order by memberships_counted.meets_n desc, memberships_counted.metric_value asc
        rows between unbounded preceding and unbounded following
    )
),

group_choices as (
    select
        percentile_bounds.*,
        percentile_bounds.n_districts >= {{ k_min_districts }} as is_published,
        percentile_bounds.p25_lower_value
        + (percentile_bounds.p25_upper_value - percentile_bounds.p25_lower_value)
        * (percentile_bounds.p25_position - floor(percentile_bounds.p25_position))
            as peer_p25,
        percentile_bounds.median_lower_value
        + (percentile_bounds.median_upper_value - percentile_bounds.median_lower_value)
        * (percentile_bounds.median_position - floor(percentile_bounds.median_position))
            as peer_median,
        percentile_bounds.p75_lower_value
        + (percentile_bounds.p75_upper_value - percentile_bounds.p75_lower_value)
        * (percentile_bounds.p75_position - floor(percentile_bounds.p75_position))
            as peer_p75,
        -- Share of the other qualifying districts doing strictly worse; ties are not worse.
        {{ others_doing_worse(
            'percentile_bounds.direction',
            'percentile_bounds.qualifying_at_or_below',
            'percentile_bounds.qualifying_equal',
            'percentile_bounds.n_districts'
        ) }} as others_doing_worse,
        -- Narrowest published level first; between a district's consortiums at the same level,
        -- the larger qualifying group, then the lower key (consortium id): deterministic, and
        -- never a wider level while one of the district's consortiums can be published. When
        -- nothing is published the first row stands for the suppressed benchmark.
        row_number() over (
            partition by
                percentile_bounds.district_id,
                percentile_bounds.metric,
                percentile_bounds.period_type,
                percentile_bounds.period_start
            order by
                percentile_bounds.n_districts >= {{ k_min_districts }} desc,
                percentile_bounds.group_level asc,
                percentile_bounds.n_districts desc,
                percentile_bounds.peer_group_key asc
        ) as preference
    from percentile_bounds
),

benchmarked as (
    select
        group_choices.district_id,
        group_choices.metric,
        group_choices.period_type,
        group_choices.period_start,
        case when group_choices.is_published then group_choices.peer_group end as peer_group,
        case when group_choices.is_published then group_choices.peer_group_key end
            as peer_group_key,
        case when group_choices.is_published then group_choices.n_districts::integer end
            as n_districts,
        group_choices.metric_value as district_value,
        case when group_choices.is_published then trim_scale(group_choices.peer_p25) end
            as peer_p25,
        case when group_choices.is_published then trim_scale(group_choices.peer_median) end
            as peer_median,
        case when group_choices.is_published then trim_scale(group_choices.peer_p75) end
            as peer_p75,
        -- A district under n is not ranked (its value is too thin to place), nor is a metric
        -- without a direction.
        case
            when group_choices.is_published and group_choices.meets_n
                then trim_scale(
                    group_choices.others_doing_worse::numeric
                    / nullif(group_choices.n_districts - 1, 0)
                )
        end as percentile_rank,
        case
            when group_choices.is_published
                then trim_scale(group_choices.metric_value - group_choices.peer_median)
        end as delta_from_median,
        case
            when not group_choices.is_published then 'no_peer_group_meets_k'
            when group_choices.metric_value is null then 'no_district_value'
            when not group_choices.meets_n then 'district_below_n'
        end as suppression_reason
    from group_choices
    where group_choices.preference = 1
),

ungrouped as (
    -- A district missing from dim_district has no peer group at all: suppressed, not dropped.
    select
        metric_values.district_id,
        metric_values.metric,
        metric_values.period_type,
        metric_values.period_start,
        null::text as peer_group,
        null::text as peer_group_key,
        null::integer as n_districts,
        metric_values.metric_value as district_value,
        null::numeric as peer_p25,
        null::numeric as peer_median,
        null::numeric as peer_p75,
        null::numeric as percentile_rank,
        null::numeric as delta_from_median,
        'no_peer_group_meets_k' as suppression_reason
    from metric_values
    left join districts
        on metric_values.district_id = districts.district_id
    where districts.district_id is null
),

benchmarks as (
    select * from benchmarked
    union all
    select * from ungrouped
)

select * from benchmarks
