{#- The scorecard's figures, defined once (docs/metrics.md "Response time and SLA", "Ratings",
    "Volume per student") for every population they are computed over: a district's periods
    (int_district_periods_aggregated) and a unit's (unit_scorecard, docs/metrics.md "Below the
    district": a unit's figures are the district's definitions restricted to its interactions).

    scorecard_aggregates(rel): the aggregate columns over rows of `rel` carrying high_risk,
    first_response_at, first_response_business_minutes, sla_met and rating_1_5 (the
    interaction's latest rating), for a GROUP BY the caller writes. Both percentiles come from
    one sort of the group's answered minutes (first_response_percentiles[1] and [2]). -#}
{% macro scorecard_aggregates(rel) -%}
        count(*) as interactions,
        count(*) filter (where {{ rel }}.high_risk) as high_risk_interactions,
        count(*) filter (where {{ rel }}.first_response_at is not null) as answered_interactions,
        percentile_cont(array[0.5, 0.9]) within group (
            order by {{ rel }}.first_response_business_minutes
        ) filter (where {{ rel }}.first_response_at is not null) as first_response_percentiles,
        -- count() skips NULL: interactions whose SLA target has not elapsed yet do not count.
        count({{ rel }}.sla_met) as sla_evaluated_interactions,
        count(*) filter (where {{ rel }}.sla_met) as sla_met_interactions,
        count({{ rel }}.rating_1_5) as rating_count,
        avg({{ rel }}.rating_1_5) as mean_rating_1_5,
        count(*) filter (where {{ rel }}.rating_1_5 >= 4) as positive_ratings
{%- endmacro %}

{#- Interactions per 1,000 students per service day. NULL rather than a division by zero: a
    period with no service day or no known enrollment has no per-student rate. trim_scale drops
    the trailing zeros numeric division pads to (0.50000000000000000000 -> 0.5). -#}
{% macro volume_per_1000_students_per_service_day(interactions, service_days, enrollment) -%}
    trim_scale(
        ({{ interactions }})::numeric * 1000
        / nullif({{ service_days }}, 0)
        / nullif({{ enrollment }}, 0)
    )
{%- endmacro %}

{#- The scorecard's shares, times and feedback from the counts of scorecard_aggregates (with
    the percentiles already taken out of their array as median_first_response_business_minutes
    and p90_first_response_business_minutes): high_risk_share through positive_share, in the
    scorecard's column order. Feedback score is published at two decimals (PostgreSQL round,
    halves away from zero). -#}
{% macro scorecard_rates(rel) -%}
        trim_scale({{ rel }}.high_risk_interactions::numeric / nullif({{ rel }}.interactions, 0))
            as high_risk_share,
        trim_scale({{ rel }}.answered_interactions::numeric / nullif({{ rel }}.interactions, 0))
            as answered_share,
        {{ rel }}.median_first_response_business_minutes::numeric
            as median_first_response_business_minutes,
        {{ rel }}.p90_first_response_business_minutes::numeric
            as p90_first_response_business_minutes,
        trim_scale(
            {{ rel }}.sla_met_interactions::numeric
            / nullif({{ rel }}.sla_evaluated_interactions, 0)
        ) as sla_met_share,
        round({{ rel }}.mean_rating_1_5::numeric, 2) as feedback_score,
        trim_scale({{ rel }}.positive_ratings::numeric / nullif({{ rel }}.rating_count, 0))
            as positive_share
{%- endmacro %}

{#- The comparable metrics of a scorecard row as (metric, metric_value, observations,
    direction) rows, for `cross join lateral (values ...) as metric_rows (metric, metric_value,
    observations, direction)`: volume and response metrics count interactions as observations,
    feedback metrics count ratings (the n rule, docs/metrics.md "Peer benchmarks"). Volume and
    high-risk share have no better direction. Peer benchmarks, year over year and the unit
    rankings read metrics in this shape, so a metric's direction and its n are decided here. -#}
{% macro scorecard_metric_rows(rel) -%}
    values
    (
        'interactions_per_1000_students_per_service_day',
        {{ rel }}.interactions_per_1000_students_per_service_day,
        {{ rel }}.interactions,
        null
    ),
    ('high_risk_share', {{ rel }}.high_risk_share, {{ rel }}.interactions, null),
    ('answered_share', {{ rel }}.answered_share, {{ rel }}.interactions, 'higher_is_better'),
    (
        'median_first_response_business_minutes',
        {{ rel }}.median_first_response_business_minutes,
        {{ rel }}.interactions,
        'lower_is_better'
    ),
    (
        'p90_first_response_business_minutes',
        {{ rel }}.p90_first_response_business_minutes,
        {{ rel }}.interactions,
        'lower_is_better'
    ),
    ('sla_met_share', {{ rel }}.sla_met_share, {{ rel }}.interactions, 'higher_is_better'),
    ('feedback_score', {{ rel }}.feedback_score, {{ rel }}.rating_count, 'higher_is_better'),
    ('positive_share', {{ rel }}.positive_share, {{ rel }}.rating_count, 'higher_is_better')
{%- endmacro %}

{#- The rank rule of docs/metrics.md "Peer benchmarks": how many of the other qualifying members
    do strictly worse (ties are not worse), from window counts over the qualifying members of
    the group: `at_or_below` (qualifying members with a value at or below this one, ascending
    RANGE frame), `equal` (qualifying members with this value) and `qualifying` (all of them).
    NULL for a metric without a direction. -#}
{% macro others_doing_worse(direction, at_or_below, equal, qualifying) -%}
    case {{ direction }}
        when 'higher_is_better' then {{ at_or_below }} - {{ equal }}
        when 'lower_is_better' then {{ qualifying }} - {{ at_or_below }}
    end
{%- endmacro %}

{#- Each interaction once per unit type of the scorecard (units.unit_type, units.unit_key; a
    missing key is NULL, the type's remainder), as a lateral join on `relation`'s columns. -#}
{% macro unit_types_of(relation) -%}
    cross join
        lateral (
            values
            ('school', {{ relation }}.school_id),
            ('department', {{ relation }}.department),
            ('stakeholder_type', {{ relation }}.stakeholder_type),
            ('channel', {{ relation }}.channel),
            ('language', {{ relation }}.language)
        ) as units (unit_type, unit_key)
{%- endmacro %}
