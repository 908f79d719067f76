-- How far our first-response business minutes are from the helpdesk's own figure, per
-- district, source and period (school year, month), and why (docs/metrics.md "Vendor
-- reconciliation"). A data engineer reads it to explain why the dashboard and the helpdesk
-- screen disagree.
--
-- The vendor's figure:
-- - Zendesk: metric_set.reply_time_in_minutes.business (its own schedule; integer minutes).
-- - Freshdesk: its API has no business-minute figure, only stats.first_responded_at (a time):
--   its business minutes are measured on OUR calendar, so a difference there is always a
--   different first reply, never a calendar difference.
--
-- Per compared ticket (both sides answered), the reason of a difference over one minute:
-- - different_first_reply: the calendar minutes differ too (by more than one minute): the two
--   count different replies as the first (an agent-opened ticket, a note, an automated reply);
-- - district_closure: same reply, and the interval spans a district closure on a service weekday
--   (a holiday, break or snow day in our calendar that the vendor's schedule lacks);
-- - business_hours_differ: same reply, no closure: the vendor schedule's hours, weekdays or time
--   zone differ from ours.
-- main_reason is the most frequent reason among the differing tickets ('none' when none differ).
with

as_of as (
    select as_of.as_of_date from {{ ref('int_as_of') }} as as_of
),

districts as (
    select * from {{ ref('stg_ref__districts') }}
),

calendar_days as (
    select * from {{ ref('int_calendar_days') }}
),

closure_days as (
    -- per district and local date: closed service weekdays up to and including that date, so
    -- the closures in [d0, d1] are two equality lookups (set-based, no expansion over days)
    select
        calendar_days.district_id,
        calendar_days.local_date,
        sum(
            case
                when
                    calendar_days.closure_reason is not null
                    and extract(isodow from calendar_days.local_date)::int
                    = any(districts.service_weekdays)
                    then 1
                else 0
            end
        ) over (
            partition by calendar_days.district_id
            order by calendar_days.local_date
            rows between unbounded preceding and current row
        ) as closed_weekdays_through
    from calendar_days
    inner join districts on calendar_days.district_id = districts.district_id
),

interactions as (
    select
        interactions.interaction_key,
        interactions.district_id,
        interactions.source_system,
        interactions.source_instance,
        interactions.source_id,
        interactions.created_at,
        interactions.local_date,
        interactions.first_response_at,
        interactions.first_response_business_minutes,
        interactions.first_response_calendar_minutes
    from {{ ref('fct_interactions') }} as interactions
    cross join as_of
    where
        interactions.source_system in ('zendesk', 'freshdesk')
        and interactions.local_date <= as_of.as_of_date
),

zendesk_figures as (
    select
        tickets.source_instance,
        tickets.ticket_id,
        tickets.zendesk_reply_business_minutes as vendor_business_minutes,
        tickets.zendesk_reply_calendar_minutes as vendor_calendar_minutes
    from {{ ref('stg_zendesk__tickets') }} as tickets
),

freshdesk_figures as (
    -- business minutes from created_at to stats.first_responded_at on our calendar
    select
        tickets.source_instance,
        tickets.ticket_id,
        {{ business_minutes_between('created_day', 'tickets.created_at', 'responded_day', 'tickets.first_responded_at') }}
            as vendor_business_minutes,
        {{ calendar_minutes_between('tickets.created_at', 'tickets.first_responded_at') }}
            as vendor_calendar_minutes
    from {{ ref('stg_freshdesk__tickets') }} as tickets
    inner join districts on tickets.district_id = districts.district_id
    left join calendar_days as created_day
        on
            tickets.district_id = created_day.district_id
            and {{ local_date('tickets.created_at', 'districts.timezone') }} = created_day.local_date
    left join calendar_days as responded_day
        on
            tickets.district_id = responded_day.district_id
            and {{ local_date('tickets.first_responded_at', 'districts.timezone') }}
            = responded_day.local_date
),

vendor_figures as (
    select
        'zendesk' as source_system,
        zendesk_figures.*
    from zendesk_figures
    union all
    select
        'freshdesk' as source_system,
        freshdesk_figures.*
    from freshdesk_figures
),

paired as (
    select
        interactions.*,
        vendor_figures.vendor_business_minutes,
        vendor_figures.vendor_calendar_minutes,
        interactions.first_response_business_minutes is not null
        and vendor_figures.vendor_business_minutes is not null as is_compared,
        interactions.first_response_business_minutes
        - vendor_figures.vendor_business_minutes as difference_minutes,
        abs(
            interactions.first_response_calendar_minutes - vendor_figures.vendor_calendar_minutes
        ) > 1 as is_different_reply,
        {{ local_date('interactions.first_response_at', 'districts.timezone') }} as response_local_date
    from interactions
    inner join districts on interactions.district_id = districts.district_id
    left join vendor_figures
        on
            interactions.source_system = vendor_figures.source_system
            and interactions.source_instance = vendor_figures.source_instance
            and interactions.source_id = vendor_figures.ticket_id
),

explained as (
    select
        paired.*,
        coalesce(
            closed_at_response.closed_weekdays_through
            - closed_at_created.closed_weekdays_through
            + case
                when
                    created_day.closure_reason is not null
                    and extract(isodow from paired.local_date)::int
                    = any(districts.service_weekdays)
                    then 1
                else 0
            end,
            0
        ) as closed_weekdays_spanned
    from paired
    inner join districts on paired.district_id = districts.district_id
    left join closure_days as closed_at_created
        on
            paired.district_id = closed_at_created.district_id
            and paired.local_date = closed_at_created.local_date
    left join closure_days as closed_at_response
        on
            paired.district_id = closed_at_response.district_id
            and paired.response_local_date = closed_at_response.local_date
    left join calendar_days as created_day
        on
            paired.district_id = created_day.district_id
            and paired.local_date = created_day.local_date
),

reasoned as (
    select
        explained.*,
        explained.is_compared and abs(explained.difference_minutes) <= 1 as is_equal,
        case
            when not explained.is_compared or abs(explained.difference_minutes) <= 1 then null
            when explained.is_different_reply then 'different_first_reply'
            when explained.closed_weekdays_spanned > 0 then 'district_closure'
            else 'business_hours_differ'
        end as reason
    from explained
),

dated as (
    select
        reasoned.*,
        'school_year' as period_type,
        make_date({{ school_year('reasoned.local_date') }} - 1, 7, 1) as period_start,
        make_date({{ school_year('reasoned.local_date') }}, 6, 30) as period_end
    from reasoned
    union all
    select
        reasoned.*,
        'month' as period_type,
        {{ dbt.date_trunc('month', 'reasoned.local_date') }}::date as period_start,
        {{ dbt.last_day('reasoned.local_date', 'month') }} as period_end
    from reasoned
),

aggregated as (
    select
        dated.district_id,
        dated.source_system,
        dated.source_instance,
        dated.period_type,
        dated.period_start,
        dated.period_end,
        count(*) filter (where dated.is_compared) as compared_count,
        count(*) filter (
            where dated.first_response_business_minutes is not null
            and dated.vendor_business_minutes is null
        ) as ours_only_count,
        count(*) filter (
            where dated.first_response_business_minutes is null
            and dated.vendor_business_minutes is not null
        ) as vendor_only_count,
        count(*) filter (where dated.is_equal) as equal_count,
        percentile_cont(0.5) within group (order by abs(dated.difference_minutes))
        filter (where dated.is_compared) as median_abs_difference_minutes,
        percentile_cont(0.95) within group (order by abs(dated.difference_minutes))
        filter (where dated.is_compared) as p95_abs_difference_minutes,
        percentile_cont(0.5) within group (order by dated.difference_minutes)
        filter (where dated.is_compared) as median_difference_minutes,
        count(*) filter (where dated.is_compared and dated.closed_weekdays_spanned > 0)
            as closure_spanning_count,
        count(*) filter (where dated.reason = 'different_first_reply') as different_first_reply_count,
        count(*) filter (where dated.reason = 'district_closure') as district_closure_count,
        count(*) filter (where dated.reason = 'business_hours_differ') as business_hours_differ_count
    from dated
    group by 1, 2, 3, 4, 5, 6
),

final as (
    select
        aggregated.district_id::text as district_id,
        aggregated.source_system::text as source_system,
        aggregated.source_instance::text as source_instance,
        aggregated.period_type::text as period_type,
        aggregated.period_start::date as period_start,
        aggregated.period_end::date as period_end,
        (
            case aggregated.source_system
                when 'zendesk' then 'metric_set.reply_time_in_minutes.business'
                else 'stats.first_responded_at'
            end
        )::text as vendor_figure,
        aggregated.compared_count::integer as compared_count,
        aggregated.ours_only_count::integer as ours_only_count,
        aggregated.vendor_only_count::integer as vendor_only_count,
        (aggregated.equal_count::numeric / nullif(aggregated.compared_count, 0))::numeric
            as equal_within_one_minute_share,
        round(aggregated.median_abs_difference_minutes::numeric, 4)::numeric
            as median_abs_difference_minutes,
        round(aggregated.p95_abs_difference_minutes::numeric, 4)::numeric
            as p95_abs_difference_minutes,
        round(aggregated.median_difference_minutes::numeric, 4)::numeric
            as median_difference_minutes,
        aggregated.closure_spanning_count::integer as closure_spanning_count,
        aggregated.different_first_reply_count::integer as different_first_reply_count,
        aggregated.district_closure_count::integer as district_closure_count,
        aggregated.business_hours_differ_count::integer as business_hours_differ_count,
        (
            case
                when
                    aggregated.different_first_reply_count
                    + aggregated.district_closure_count
                    + aggregated.business_hours_differ_count = 0
                    then 'none'
                -- ties: the reason a principal can act on first (a closure, then a reply)
                when
                    aggregated.district_closure_count >= aggregated.different_first_reply_count
                    and aggregated.district_closure_count >= aggregated.business_hours_differ_count
                    then 'district_closure'
                when aggregated.different_first_reply_count >= aggregated.business_hours_differ_count
                    then 'different_first_reply'
                else 'business_hours_differ'
            end
        )::text as main_reason
    from aggregated
    where aggregated.compared_count + aggregated.ours_only_count + aggregated.vendor_only_count > 0
)

select * from final
