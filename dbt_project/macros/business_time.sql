{#- Business time (docs/metrics.md "Service calendar and business time").

    int_calendar_days has one row per district and local date with the day's UTC open instant,
    its service seconds (0 on non-service days) and the cumulative service seconds of all earlier
    days. The cumulative business clock at an instant t is then

        cum(t) = cum_seconds_at_day_start + clamp(t - open_at, 0, service_seconds)

    read from the row of t's local date, and business seconds between t0 and t1 are
    cum(t1) - cum(t0): two equality lookups per interval, no expansion over days or weeks. A clock
    that starts before open, after close or on a closed day starts at the next open by
    construction (cum is flat outside service intervals). -#}

{#- The local date of an instant in a time zone (the calendar lookup key). -#}
{% macro local_date(ts, tz) -%}
    (({{ ts }}) at time zone {{ tz }})::date
{%- endmacro %}

{#- cum(t) given the joined int_calendar_days row `cal` of t's local date. -#}
{% macro business_clock(cal, ts) -%}
    (
        {{ cal }}.cum_seconds_at_day_start
        + least(greatest(extract(epoch from (({{ ts }}) - {{ cal }}.open_at)), 0), {{ cal }}.service_seconds)
    )
{%- endmacro %}

{#- Business minutes between two instants whose calendar rows are joined as cal0 and cal1;
    0 when t1 <= t0, NULL when either is NULL or outside the calendar range (no greatest():
    it would turn NULL into 0). -#}
{% macro business_minutes_between(cal0, t0, cal1, t1) -%}
    (
        case
            when {{ business_clock(cal1, t1) }} < {{ business_clock(cal0, t0) }} then 0
            else {{ business_clock(cal1, t1) }} - {{ business_clock(cal0, t0) }}
        end / 60.0
    )
{%- endmacro %}

{#- Calendar minutes, seconds kept. -#}
{% macro calendar_minutes_between(t0, t1) -%}
    (extract(epoch from (({{ t1 }}) - ({{ t0 }}))) / 60.0)
{%- endmacro %}

{#- School year (1 July - 30 June, named by its end year) of a local date. -#}
{% macro school_year(date_expr) -%}
    (extract(year from {{ date_expr }})::int + case when extract(month from {{ date_expr }}) >= 7 then 1 else 0 end)
{%- endmacro %}

{#- Post-hook of int_calendar_days: a SQL function for ad-hoc and row-wise use (backlog ages,
    tests). Two primary-key lookups; facts use the equivalent set-based join instead. -#}
{% macro create_business_seconds_function(calendar_relation) %}
create or replace function {{ calendar_relation.schema }}.business_seconds_between(
    p_district_id text, p_t0 timestamptz, p_t1 timestamptz
) returns numeric language sql stable as $fn$
    with tz as (
        select cal.timezone
        from {{ calendar_relation }} as cal
        where cal.district_id = p_district_id
        limit 1
    ),

    clock as (
        select
            (
                select {{ business_clock('c1', 'p_t1') }}
                from {{ calendar_relation }} as c1
                where c1.district_id = p_district_id
                    and c1.local_date = (p_t1 at time zone (select tz.timezone from tz))::date
            ) as cum1,
            (
                select {{ business_clock('c0', 'p_t0') }}
                from {{ calendar_relation }} as c0
                where c0.district_id = p_district_id
                    and c0.local_date = (p_t0 at time zone (select tz.timezone from tz))::date
            ) as cum0
    )

    select case when clock.cum1 < clock.cum0 then 0 else clock.cum1 - clock.cum0 end from clock
$fn$
{% endmacro %}

{#- docs/metrics.md enrollment bands. -#}
{% macro enrollment_band(expr) -%}
    case
        when {{ expr }} < 2500 then 'under 2,500'
        when {{ expr }} < 5000 then '2,500-4,999'
        when {{ expr }} < 10000 then '5,000-9,999'
        when {{ expr }} < 25000 then '10,000-24,999'
        when {{ expr }} < 50000 then '25,000-49,999'
        when {{ expr }} < 75000 then '50,000-74,999'
        else '75,000 and over'
    end
{%- endmacro %}
