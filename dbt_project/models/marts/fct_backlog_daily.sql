{{
    config(
        materialized='school_year_partitioned',
        school_year_date='local_date',
        unique_key=['district_id', 'local_date'],
        indexes=[{'columns': ['district_id', 'local_date'], 'unique': True}],
        post_hook=["{{ analyze_when_new(this) }}"],
    )
}}
-- One row per district and local date, from the district's first interaction to the as-of
-- date: the backlog at the end of the day (docs/metrics.md "Service health"), past due, and
-- counts per aging bucket in service days, from the interaction history as it stood at that
-- instant (int_interaction_backlog_spans: a ticket solved later was in the backlog before).
-- The end of day D is the instant D + 1 00:00 local; a ticket solved at that instant is not
-- waiting. Business age at it: cum(end of D) - cum(created_at) on int_calendar_days, where
-- cum(end of D) = the day's cum_seconds_at_day_start + service_seconds (no second lookup).
-- Past due: waiting and (unanswered at that instant past its first-response target, or older
-- than the district's past_due_service_days).
-- Computed as a sweep, not items x days (issue 19): each backlog span of an item is in the
-- backlog on a run of consecutive days, and on them its aging bucket and past due change on a
-- few days only (ages grow with cum(end of D), which is monotone). Those days are found by
-- width_bucket() (a binary search) on the district's days in order: the first day whose end
-- reaches an instant, or whose cum(end of D) reaches an age threshold. The figures are then
-- running sums of +1/-1 at the edges of each span's windows (spans with the same days counted
-- once, weighted). The oldest age is the age of the item with the smallest creation clock among
-- those waiting that day: a range minimum, from minima over aligned blocks of 2^k days (dyadic
-- decomposition of each span's run of days) read back per day.
-- Incremental: the last var('backlog_recompute_days') dates already built and every date after
-- them up to the as-of date are recomputed (delete+insert on district and date). A day's
-- figures depend only on what had happened by its end, so older days change only when a
-- record arrives late with an old timestamp (DECISIONLOG).
with

as_of as (
    select as_of.as_of_date from {{ ref('int_as_of') }} as as_of
),

districts as (
    select
        districts.district_id,
        districts.service_day_minutes,
        districts.past_due_service_days
    from {{ ref('stg_ref__districts') }} as districts
),

first_dates as (
    select
        interactions.district_id,
        min(interactions.local_date) as first_date
    from {{ ref('fct_interactions') }} as interactions
    group by interactions.district_id
),

days as (
    -- the days being built, numbered from 1 per district in date order
    select
        calendar.district_id,
        calendar.local_date,
        ((calendar.local_date + 1)::timestamp at time zone calendar.timezone) as day_end_at,
        calendar.cum_seconds_at_day_start + calendar.service_seconds as cum_seconds_at_day_end,
        districts.service_day_minutes,
        row_number() over (
            partition by calendar.district_id order by calendar.local_date
        ) as day_number
    from {{ ref('int_calendar_days') }} as calendar
    inner join first_dates
        on calendar.district_id = first_dates.district_id
    inner join districts
        on calendar.district_id = districts.district_id
    cross join as_of
    where
        calendar.local_date between first_dates.first_date and as_of.as_of_date
        {% if is_incremental() -%}
        and calendar.local_date > (
            select coalesce(max(built.local_date), '-infinity'::date) - {{ var('backlog_recompute_days') }}
            from {{ this }} as built
        )
        {%- endif %}
),

district_days as (
    -- each district's days in order as sorted arrays: width_bucket(x, array) is the number of
    -- elements <= x, so width_bucket(x, ...) + 1 is the number of the first day past x
    -- (day_count + 1: none of the days being built)
    select
        days.district_id,
        count(*) as day_count,
        array_agg(days.local_date order by days.day_number) as local_dates,
        array_agg(days.day_end_at order by days.day_number) as day_ends,
        array_agg(days.cum_seconds_at_day_end order by days.day_number) as cum_ends
    from days
    group by days.district_id
),

window_start as (
    select min(days.day_end_at) as first_day_end_at from days
),

items as (
    -- waiting at some instant of the days being built: its last span ends after the first
    -- day's end, or never (upper() of a multirange: its last span's end, NULL when unbounded)
    select
        spans.interaction_key,
        spans.district_id,
        spans.created_at,
        spans.local_date,
        spans.first_response_at,
        spans.sla_target_minutes,
        spans.backlog_spans
    from {{ ref('int_interaction_backlog_spans') }} as spans
    cross join window_start
    where
        not isempty(spans.backlog_spans)
        and (upper_inf(spans.backlog_spans) or upper(spans.backlog_spans) > window_start.first_day_end_at)
),

clocked as (
    -- age at the end of day D, in seconds: cum(end of D) - created_clock. Every threshold below
    -- is exact: ages are compared in seconds (cum(end of D) is whole seconds) rather than
    -- divided into minutes and service days, which is the same comparison (DECISIONLOG)
    select
        items.interaction_key,
        items.district_id,
        items.created_at,
        items.local_date,
        items.first_response_at,
        items.sla_target_minutes,
        items.backlog_spans,
        {{ business_clock('created_day', 'items.created_at') }} as created_clock,
        districts.service_day_minutes * 60 as service_day_seconds,
        districts.past_due_service_days
    from items
    inner join {{ ref('int_calendar_days') }} as created_day
        on
            items.district_id = created_day.district_id
            and items.local_date = created_day.local_date
    inner join districts
        on items.district_id = districts.district_id
),

spans as (
    -- each span of an item's backlog multirange: in the backlog on the days from
    -- first_day_number to before end_day_number, those whose end instant is in the span (and
    -- after the item's creation, on or after its created date)
    select
        clocked.district_id,
        clocked.first_response_at,
        clocked.sla_target_minutes,
        clocked.created_clock,
        clocked.service_day_seconds,
        clocked.past_due_service_days,
        district_days.day_count,
        district_days.day_ends,
        district_days.cum_ends,
        greatest(
            width_bucket(clocked.local_date - 1, district_days.local_dates) + 1,
            width_bucket(clocked.created_at, district_days.day_ends) + 1,
            case
                when lower_inf(span.backlog_span) then 1
                when lower_inc(span.backlog_span)
                    then width_bucket(lower(span.backlog_span) - interval '1 microsecond', district_days.day_ends) + 1
                else width_bucket(lower(span.backlog_span), district_days.day_ends) + 1
            end
        ) as first_day_number,
        case
            when upper_inf(span.backlog_span) then district_days.day_count + 1
            when upper_inc(span.backlog_span)
                then width_bucket(upper(span.backlog_span), district_days.day_ends) + 1
            else width_bucket(upper(span.backlog_span) - interval '1 microsecond', district_days.day_ends) + 1
        end as end_day_number
    from clocked
    inner join district_days
        on clocked.district_id = district_days.district_id
    cross join lateral unnest(clocked.backlog_spans) as span (backlog_span)
),

waiting_spans as (
    -- the spans in the backlog on at least one day, with the numbers of the days their state
    -- changes on (day_count + 1: none of these days)
    select
        spans.district_id,
        spans.day_count,
        spans.created_clock,
        spans.first_day_number,
        spans.end_day_number,
        -- aged at least N service days: first day with cum(end) >= created_clock + N days
        width_bucket(
            ceil(spans.created_clock + spans.service_day_seconds)::bigint - 1, spans.cum_ends
        ) + 1 as aged_1_day_number,
        width_bucket(
            ceil(spans.created_clock + 2 * spans.service_day_seconds)::bigint - 1, spans.cum_ends
        ) + 1 as aged_2_day_number,
        width_bucket(
            ceil(spans.created_clock + 5 * spans.service_day_seconds)::bigint - 1, spans.cum_ends
        ) + 1 as aged_5_day_number,
        width_bucket(
            ceil(spans.created_clock + 10 * spans.service_day_seconds)::bigint - 1, spans.cum_ends
        ) + 1 as aged_10_day_number,
        -- older than past_due_service_days: first day with cum(end) > created_clock + that
        width_bucket(
            floor(spans.created_clock + spans.past_due_service_days * spans.service_day_seconds)::bigint,
            spans.cum_ends
        ) + 1 as past_age_day_number,
        -- past the first-response target: first day with cum(end) > created_clock + target
        coalesce(
            width_bucket(floor(spans.created_clock + spans.sla_target_minutes * 60)::bigint, spans.cum_ends) + 1,
            spans.day_count + 1
        ) as past_target_day_number,
        -- answered at the end of D: first day whose end is after the first response
        coalesce(
            width_bucket(spans.first_response_at, spans.day_ends) + 1,
            spans.day_count + 1
        ) as answered_day_number
    from spans
    where spans.first_day_number < spans.end_day_number
),

span_groups as (
    -- spans with the same days count alike (most items of a day do): counted once, with the
    -- smallest creation clock for the oldest age
    select
        waiting_spans.district_id,
        waiting_spans.first_day_number,
        waiting_spans.end_day_number,
        waiting_spans.aged_1_day_number,
        waiting_spans.aged_2_day_number,
        waiting_spans.aged_5_day_number,
        waiting_spans.aged_10_day_number,
        waiting_spans.past_age_day_number,
        waiting_spans.past_target_day_number,
        waiting_spans.answered_day_number,
        count(*) as span_count,
        min(waiting_spans.created_clock) as created_clock
    from waiting_spans
    group by
        waiting_spans.district_id,
        waiting_spans.first_day_number,
        waiting_spans.end_day_number,
        waiting_spans.aged_1_day_number,
        waiting_spans.aged_2_day_number,
        waiting_spans.aged_5_day_number,
        waiting_spans.aged_10_day_number,
        waiting_spans.past_age_day_number,
        waiting_spans.past_target_day_number,
        waiting_spans.answered_day_number
),

windows as (
    -- per span group, the runs of days it counts in each figure ([from_day, to_day), non-empty);
    -- aged_N: aged at least N service days; the buckets are differences of these
    select
        span_groups.district_id,
        span_groups.span_count,
        measure.figure,
        measure.from_day,
        measure.to_day
    from span_groups
    cross join
        lateral (
            values
            ('backlog', span_groups.first_day_number, span_groups.end_day_number),
            (
                'aged_1',
                greatest(span_groups.first_day_number, span_groups.aged_1_day_number),
                span_groups.end_day_number
            ),
            (
                'aged_2',
                greatest(span_groups.first_day_number, span_groups.aged_2_day_number),
                span_groups.end_day_number
            ),
            (
                'aged_5',
                greatest(span_groups.first_day_number, span_groups.aged_5_day_number),
                span_groups.end_day_number
            ),
            (
                'aged_10',
                greatest(span_groups.first_day_number, span_groups.aged_10_day_number),
                span_groups.end_day_number
            ),
            (
                'past_age',
                greatest(span_groups.first_day_number, span_groups.past_age_day_number),
                span_groups.end_day_number
            ),
            (
                'past_target',
                greatest(span_groups.first_day_number, span_groups.past_target_day_number),
                least(span_groups.end_day_number, span_groups.answered_day_number)
            ),
            (
                'past_both',
                greatest(
                    span_groups.first_day_number,
                    span_groups.past_target_day_number,
                    span_groups.past_age_day_number
                ),
                least(span_groups.end_day_number, span_groups.answered_day_number)
            )
        ) as measure (figure, from_day, to_day)
    where measure.from_day < measure.to_day
),

changes as (
    -- +1 on a window's first day, -1 on the day after its last (day_count + 1: no day)
    select
        windows.district_id,
        edge.day_number,
        sum(edge.delta * windows.span_count) filter (where windows.figure = 'backlog') as backlog,
        sum(edge.delta * windows.span_count) filter (where windows.figure = 'aged_1') as aged_1,
        sum(edge.delta * windows.span_count) filter (where windows.figure = 'aged_2') as aged_2,
        sum(edge.delta * windows.span_count) filter (where windows.figure = 'aged_5') as aged_5,
        sum(edge.delta * windows.span_count) filter (where windows.figure = 'aged_10') as aged_10,
        sum(edge.delta * windows.span_count) filter (where windows.figure = 'past_age') as past_age,
        sum(edge.delta * windows.span_count) filter (where windows.figure = 'past_target') as past_target,
        sum(edge.delta * windows.span_count) filter (where windows.figure = 'past_both') as past_both
    from windows
    cross join
        lateral (
            values (windows.from_day, 1), (windows.to_day, -1)
        ) as edge (day_number, delta)
    group by windows.district_id, edge.day_number
),

running as (
    select
        days.district_id,
        days.day_number,
        sum(coalesce(changes.backlog, 0)) over running_days as backlog,
        sum(coalesce(changes.aged_1, 0)) over running_days as aged_1,
        sum(coalesce(changes.aged_2, 0)) over running_days as aged_2,
        sum(coalesce(changes.aged_5, 0)) over running_days as aged_5,
        sum(coalesce(changes.aged_10, 0)) over running_days as aged_10,
        sum(coalesce(changes.past_age, 0)) over running_days as past_age,
        sum(coalesce(changes.past_target, 0)) over running_days as past_target,
        sum(coalesce(changes.past_both, 0)) over running_days as past_both
    from days
    left join changes
        on
            days.district_id = changes.district_id
            and days.day_number = changes.day_number
    window running_days as (partition by days.district_id order by days.day_number)
),

levels as (
    -- block sizes 2^level up to the longest run of days
    select level.level
    from generate_series(0, 30) as level (level)
    where (1::bigint << level.level) <= (select max(district_days.day_count) from district_days)
),

span_blocks as (
    -- the aligned blocks [block * 2^level, (block + 1) * 2^level) of day numbers - 1 that lie in
    -- a span's run of days, the first and the last of each size: together they cover the run
    -- (overlaps do not matter to a minimum)
    select
        span_groups.district_id,
        levels.level,
        block.block,
        span_groups.created_clock
    from span_groups
    inner join levels
        on (1::bigint << levels.level) <= span_groups.end_day_number - span_groups.first_day_number
    cross join
        lateral (
            values
            (((span_groups.first_day_number - 1) + (1::bigint << levels.level) - 1) >> levels.level),
            (((span_groups.end_day_number - 1) >> levels.level) - 1)
        ) as block (block)
    where
        (block.block << levels.level) >= span_groups.first_day_number - 1
        and ((block.block + 1) << levels.level) <= span_groups.end_day_number - 1
),

block_minima as (
    select
        span_blocks.district_id,
        span_blocks.level,
        span_blocks.block,
        min(span_blocks.created_clock) as created_clock
    from span_blocks
    group by span_blocks.district_id, span_blocks.level, span_blocks.block
),

oldest as materialized (
    -- a day's oldest item: the smallest creation clock over the blocks holding the day
    -- (materialized: inlined, its estimate of one row had it recomputed once per day)
    select
        days.district_id,
        days.day_number,
        min(block_minima.created_clock) as created_clock
    from days
    cross join levels
    inner join block_minima
        on
            days.district_id = block_minima.district_id
            and levels.level = block_minima.level
            and ((days.day_number - 1) >> levels.level) = block_minima.block
    group by days.district_id, days.day_number
),

final as (
    select
        days.district_id::text as district_id,
        days.local_date::date as local_date,
        days.day_end_at::timestamptz as day_end_at,
        running.backlog::integer as backlog,
        (running.past_target + running.past_age - running.past_both)::integer as past_due,
        running.past_target::integer as past_due_by_target,
        running.past_age::integer as past_due_by_age,
        (running.backlog - running.aged_1)::integer as aged_under_1,
        (running.aged_1 - running.aged_2)::integer as aged_1_2,
        (running.aged_2 - running.aged_5)::integer as aged_2_5,
        (running.aged_5 - running.aged_10)::integer as aged_5_10,
        running.aged_10::integer as aged_10_plus,
        -- the same expression as the age of each item, so the same numeric value
        round(
            (
                ((days.cum_seconds_at_day_end - oldest.created_clock) / 60.0) / days.service_day_minutes
            )::numeric,
            4
        )::numeric as oldest_age_service_days
    from days
    inner join running
        on
            days.district_id = running.district_id
            and days.day_number = running.day_number
    left join oldest
        on
            days.district_id = oldest.district_id
            and days.day_number = oldest.day_number
)

select * from final
