{{
    config(
        materialized='school_year_partitioned',
        school_year_date='local_date',
        unique_key='interaction_key',
        indexes=[
            {'columns': ['district_id', 'local_date']},
            {'columns': ['last_loaded_at']},
        ],
        post_hook=[
            "{{ delete_stale_rows(this, ref('int_interactions_unioned'), 'reject_reason is null') }}",
            "{{ analyze_when_new(this) }}",
        ]
    )
}}
-- One row per interaction with response and resolution times (business and calendar minutes,
-- to 4 decimals: seconds kept) and the SLA outcome. Business minutes: cum(t1) - cum(t0) on int_calendar_days (see
-- macros/business_time.sql), one equality join per instant, set-based.
-- Incremental: interactions whose records were loaded since the watermark (last load minus
-- lookback_hours), and those still waiting on their SLA (sla_met NULL), are recomputed and
-- replaced (delete+insert);
-- rows whose interaction was since quarantined or vanished are deleted by the post-hook.
with

interactions as (
    select * from {{ ref('int_interactions_unioned') }}
    where
        reject_reason is null
    {% if is_incremental() -%}
    and (
        last_loaded_at > {{ incremental_watermark('last_loaded_at') }}
        or interaction_key in (
            select pending.interaction_key
            from {{ this }} as pending
            where pending.sla_met is null
        )
    )
    {%- endif %}
),

as_of_instants as (
    select
        interactions.*,
        {% if var('as_of_date') -%}
        (('{{ var("as_of_date") }}'::date + 1)::timestamp at time zone interactions.timezone)
        {%- else -%}
        now()
        {%- endif %} as as_of_instant
    from interactions
),

timed as (
    -- the local dates of each instant, as columns: each calendar join is then an equality on
    -- (district_id, local_date), which the planner hashes (a join on an expression it would
    -- not estimate: with one district, that became a merge join on district_id alone)
    select
        as_of_instants.*,
        {{ local_date('as_of_instants.first_response_at', 'as_of_instants.timezone') }}
            as response_local_date,
        {{ local_date('as_of_instants.resolved_at', 'as_of_instants.timezone') }}
            as resolved_local_date,
        {{ local_date('as_of_instants.as_of_instant', 'as_of_instants.timezone') }}
            as as_of_local_date
    from as_of_instants
),

measured as (
    select
        timed.*,
        {{ business_minutes_between('created_day', 'timed.created_at', 'response_day', 'timed.first_response_at') }}
            as first_response_business_minutes,
        {{ calendar_minutes_between('timed.created_at', 'timed.first_response_at') }}
            as first_response_calendar_minutes,
        {{ business_minutes_between('created_day', 'timed.created_at', 'resolved_day', 'timed.resolved_at') }}
            as resolution_business_minutes,
        {{ calendar_minutes_between('timed.created_at', 'timed.resolved_at') }}
            as resolution_calendar_minutes,
        {{ business_minutes_between('created_day', 'timed.created_at', 'as_of_day', 'timed.as_of_instant') }}
            as waiting_business_minutes,
        coalesce(
            not created_day.is_service_day
            or timed.created_at < created_day.open_at
            or timed.created_at >= created_day.close_at,
            true
        ) as is_after_hours
    from timed
    left join {{ ref('int_calendar_days') }} as created_day
        on
            timed.district_id = created_day.district_id
            and timed.local_date = created_day.local_date
    left join {{ ref('int_calendar_days') }} as response_day
        on
            timed.district_id = response_day.district_id
            and timed.response_local_date = response_day.local_date
    left join {{ ref('int_calendar_days') }} as resolved_day
        on
            timed.district_id = resolved_day.district_id
            and timed.resolved_local_date = resolved_day.local_date
    left join {{ ref('int_calendar_days') }} as as_of_day
        on
            timed.district_id = as_of_day.district_id
            and timed.as_of_local_date = as_of_day.local_date
),

final as (
    select
        measured.interaction_key::text as interaction_key,
        measured.district_id::text as district_id,
        measured.source_system::text as source_system,
        measured.source_instance::text as source_instance,
        measured.source_id::text as source_id,
        measured.channel::text as channel,
        measured.topic::text as topic,
        measured.priority::text as priority,
        measured.high_risk::boolean as high_risk,
        measured.high_risk_term::text as high_risk_term,
        measured.requester_hash::text as requester_hash,
        measured.created_at::timestamptz as created_at,
        measured.local_date::date as local_date,
        measured.school_year::integer as school_year,
        measured.first_response_at::timestamptz as first_response_at,
        measured.resolved_at::timestamptz as resolved_at,
        round(measured.first_response_business_minutes, 4)::numeric as first_response_business_minutes,
        round(measured.first_response_calendar_minutes, 4)::numeric as first_response_calendar_minutes,
        round(measured.resolution_business_minutes, 4)::numeric as resolution_business_minutes,
        round(measured.resolution_calendar_minutes, 4)::numeric as resolution_calendar_minutes,
        measured.sla_target_minutes::numeric as sla_target_minutes,
        (
            case
                when measured.first_response_at is not null
                    then measured.first_response_business_minutes <= measured.sla_target_minutes
                when measured.waiting_business_minutes > measured.sla_target_minutes then false
            end
        )::boolean as sla_met,
        measured.school_id::text as school_id,
        measured.department::text as department,
        measured.stakeholder_type::text as stakeholder_type,
        measured.language::text as language,
        measured.is_after_hours::boolean as is_after_hours,
        measured.status::text as status,
        measured.is_ever_solved::boolean as ever_solved,
        measured.is_reopened::boolean as reopened,
        measured.agent_response_count::integer as agent_response_count,
        -- docs/metrics.md "Service health": now solved/closed with exactly one non-automated
        -- agent response (auto-replies and the requester's own "thanks" are not responses)
        (
            coalesce(measured.status in ('solved', 'closed'), false)
            and measured.agent_response_count = 1
        )::boolean as one_touch,
        measured.last_loaded_at::timestamptz as last_loaded_at
    from measured
)

select * from final
