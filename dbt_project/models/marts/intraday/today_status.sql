{{
    config(
        tags=['intraday'],
    )
}}
-- One row per district: "today so far" as of one intraday cycle's instant (macros/intraday.sql).
-- Built in build_intraday from the intraday schemas' own fct_interactions, published alone into
-- marts.today_status. Definitions: docs/metrics.md
-- "Today so far". What is known at the instant counts: an interaction created later, a
-- response or a solve stamped later (a replay of an earlier instant) is not yet known.
with

cycle as (
    select {{ intraday_instant() }} as as_of_at
),

districts as (
    select
        districts.district_id,
        districts.timezone,
        districts.service_day_minutes,
        districts.past_due_service_days,
        cycle.as_of_at,
        {{ local_date('cycle.as_of_at', 'districts.timezone') }} as local_date
    from {{ ref('stg_ref__districts') }} as districts
    cross join cycle
),

known as (
    select
        interactions.district_id,
        interactions.source_system,
        interactions.priority,
        interactions.high_risk,
        interactions.created_at,
        interactions.local_date,
        interactions.sla_target_minutes,
        districts.as_of_at,
        districts.service_day_minutes,
        districts.past_due_service_days,
        districts.local_date as today_local_date,
        interactions.local_date = districts.local_date as is_today,
        -- false, not NULL, when unanswered: NOT NULL would hide it from past due
        coalesce(interactions.first_response_at <= districts.as_of_at, false) as is_answered,
        case
            when interactions.first_response_at <= districts.as_of_at
                then interactions.first_response_business_minutes
        end as first_response_business_minutes,
        -- the backlog (docs/metrics.md "Service health"): helpdesk tickets not solved or closed
        -- now, email threads not answered now; contact-log rows are not a queue
        case
            when interactions.source_system in ('zendesk', 'freshdesk')
                then
                    interactions.status is null
                    or interactions.status not in ('solved', 'closed')
                    or interactions.resolved_at > districts.as_of_at
            when interactions.source_system = 'imap'
                then
                    interactions.first_response_at is null
                    or interactions.first_response_at > districts.as_of_at
            else false
        end as is_open
    from {{ ref('fct_interactions') }} as interactions
    inner join districts
        on interactions.district_id = districts.district_id
    where interactions.created_at <= districts.as_of_at
),

aged as (
    -- business minutes each open interaction has waited by the cycle's instant
    select
        known.*,
        {{ business_minutes_between('created_day', 'known.created_at', 'now_day', 'known.as_of_at') }}
            as waiting_business_minutes
    from known
    left join {{ ref('int_calendar_days') }} as created_day
        on
            known.district_id = created_day.district_id
            and known.local_date = created_day.local_date
    left join {{ ref('int_calendar_days') }} as now_day
        on
            known.district_id = now_day.district_id
            and known.today_local_date = now_day.local_date
    where known.is_open or known.is_today
),

flagged as (
    select
        aged.*,
        aged.is_open
        and (
            (not aged.is_answered and aged.waiting_business_minutes > aged.sla_target_minutes)
            or aged.waiting_business_minutes
            > aged.past_due_service_days * aged.service_day_minutes
        ) as is_past_due
    from aged
),

per_district as (
    select
        flagged.district_id,
        count(*) filter (where flagged.is_today) as contacts_today,
        count(*) filter (where flagged.is_today and flagged.is_answered) as answered_today,
        percentile_cont(0.5) within group (order by flagged.first_response_business_minutes)
        filter (where flagged.is_today and flagged.is_answered)
            as median_first_response_business_minutes,
        count(*) filter (where flagged.is_open) as backlog_now,
        count(*) filter (where flagged.is_past_due) as past_due_now,
        count(*) filter (where flagged.is_open and flagged.high_risk) as high_risk_open_now
    from flagged
    group by flagged.district_id
),

final as (
    select
        districts.district_id::text as district_id,
        districts.local_date::date as local_date,
        districts.as_of_at::timestamptz as as_of_at,
        coalesce(per_district.contacts_today, 0)::integer as contacts_today,
        coalesce(per_district.answered_today, 0)::integer as answered_today,
        round(per_district.median_first_response_business_minutes::numeric, 4)::numeric
            as median_first_response_business_minutes,
        coalesce(per_district.backlog_now, 0)::integer as backlog_now,
        coalesce(per_district.past_due_now, 0)::integer as past_due_now,
        coalesce(per_district.high_risk_open_now, 0)::integer as high_risk_open_now
    from districts
    left join per_district
        on districts.district_id = per_district.district_id
)

select * from final
