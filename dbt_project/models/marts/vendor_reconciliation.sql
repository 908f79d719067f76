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
-- The per-ticket pairing and reasons are int_vendor_reconciliation_tickets (incremental); this
-- aggregates its tickets created up to the as-of date, per school year and month, in full each
-- run: a median over a school year cannot be updated from a night's tickets alone.
with

as_of as (
    select as_of.as_of_date from {{ ref('int_as_of') }} as as_of
),

reasoned as (
    select
        tickets.district_id,
        tickets.source_system,
        tickets.source_instance,
        tickets.school_year_start,
        tickets.month_start,
        tickets.first_response_business_minutes,
        tickets.vendor_business_minutes,
        tickets.difference_minutes,
        tickets.is_compared,
        tickets.is_equal,
        tickets.closed_weekdays_spanned,
        tickets.reason
    from {{ ref('int_vendor_reconciliation_tickets') }} as tickets
    cross join as_of
    where tickets.local_date <= as_of.as_of_date
),

aggregated as (
    select
        reasoned.district_id,
        reasoned.source_system,
        reasoned.source_instance,
        case
            when grouping(reasoned.school_year_start) = 0 then 'school_year' else 'month'
        end as period_type,
        coalesce(reasoned.school_year_start, reasoned.month_start) as period_start,
        count(*) filter (where reasoned.is_compared) as compared_count,
        count(*) filter (
            where reasoned.first_response_business_minutes is not null
            and reasoned.vendor_business_minutes is null
        ) as ours_only_count,
        count(*) filter (
            where reasoned.first_response_business_minutes is null
            and reasoned.vendor_business_minutes is not null
        ) as vendor_only_count,
        count(*) filter (where reasoned.is_equal) as equal_count,
        percentile_cont(0.5) within group (order by abs(reasoned.difference_minutes))
        filter (where reasoned.is_compared) as median_abs_difference_minutes,
        percentile_cont(0.95) within group (order by abs(reasoned.difference_minutes))
        filter (where reasoned.is_compared) as p95_abs_difference_minutes,
        percentile_cont(0.5) within group (order by reasoned.difference_minutes)
        filter (where reasoned.is_compared) as median_difference_minutes,
        count(*) filter (where reasoned.is_compared and reasoned.closed_weekdays_spanned > 0)
            as closure_spanning_count,
        count(*) filter (where reasoned.reason = 'different_first_reply') as different_first_reply_count,
        count(*) filter (where reasoned.reason = 'district_closure') as district_closure_count,
        count(*) filter (where reasoned.reason = 'business_hours_differ') as business_hours_differ_count
    from reasoned
    -- one pass for both period types: the school year's groups, then the months' (no union of
    -- the tickets twice, which sorted on disk at S)
    group by
        reasoned.district_id,
        reasoned.source_system,
        reasoned.source_instance,
        grouping sets ((reasoned.school_year_start), (reasoned.month_start))
),

final as (
    select
        aggregated.district_id::text as district_id,
        aggregated.source_system::text as source_system,
        aggregated.source_instance::text as source_instance,
        aggregated.period_type::text as period_type,
        aggregated.period_start::date as period_start,
        (
            case aggregated.period_type
                when 'school_year'
                    then {{ dbt.dateadd('day', -1, dbt.dateadd('year', 1, 'aggregated.period_start')) }}
                else {{ dbt.last_day('aggregated.period_start', 'month') }}
            end
        )::date as period_end,
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
