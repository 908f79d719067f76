{{
    config(
        materialized='incremental',
        unique_key='interaction_key',
        indexes=[
            {'columns': ['interaction_key'], 'unique': True},
            {'columns': ['last_loaded_at']},
        ],
        post_hook=[
            "{{ delete_stale_rows(this, ref('fct_interactions'), 'true') }}",
            "{{ analyze_when_new(this) }}",
        ]
    )
}}
-- One row per helpdesk ticket (Zendesk and Freshdesk interactions of fct_interactions): our
-- first-response business minutes beside the vendor's own figure, and the reason they differ
-- (vendor_reconciliation's header says what each figure and reason is). vendor_reconciliation
-- aggregates these rows per period.
-- Incremental, so that a night does not pair a whole school year of tickets again (the pairing
-- was four fifths of vendor_reconciliation's time, rebuilt whole every night: issue 19):
-- interactions whose fct_interactions row carries a load since the watermark are recomputed and
-- replaced. Both figures only change with a load: ours with the ticket's records, the vendor's
-- with a ticket version (Zendesk's metric set, Freshdesk's stats), both in last_loaded_at.
-- A calendar change (the closures and, for Freshdesk, the vendor figure's business minutes)
-- or a code change rebuilds in full (schoolcx.refchange). Interactions gone from
-- fct_interactions (quarantined, deleted) are deleted by the post-hook.
with

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
        interactions.first_response_calendar_minutes,
        interactions.last_loaded_at
    from {{ ref('fct_interactions') }} as interactions
    where
        interactions.source_system in ('zendesk', 'freshdesk')
        {%- if is_incremental() %}
        and interactions.last_loaded_at > {{ incremental_watermark('last_loaded_at') }}
        {%- endif %}
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
    {%- if is_incremental() %}
    -- a night measures its own tickets only, not every Freshdesk ticket of the history (a
    -- computed subquery: the join below would not restrict it)
    where
        exists (
            select 1
            from interactions as changed
            where
                changed.source_system = 'freshdesk'
                and changed.source_instance = tickets.source_instance
                and changed.source_id = tickets.ticket_id
        )
    {%- endif %}
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

final as (
    select
        reasoned.interaction_key::text as interaction_key,
        reasoned.district_id::text as district_id,
        reasoned.source_system::text as source_system,
        reasoned.source_instance::text as source_instance,
        reasoned.local_date::date as local_date,
        -- the periods vendor_reconciliation groups by, computed once per ticket here rather
        -- than for a whole year of tickets every night there
        make_date({{ school_year('reasoned.local_date') }} - 1, 7, 1) as school_year_start,
        {{ dbt.date_trunc('month', 'reasoned.local_date') }}::date as month_start,
        reasoned.first_response_business_minutes,
        reasoned.vendor_business_minutes,
        reasoned.difference_minutes,
        reasoned.is_compared,
        reasoned.is_equal,
        reasoned.closed_weekdays_spanned,
        reasoned.reason::text as reason,
        reasoned.last_loaded_at
    from reasoned
)

select * from final
