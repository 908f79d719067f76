{{
    config(
        materialized='incremental',
        unique_key=['source_instance', 'thread_id'],
        indexes=[
            {'columns': ['source_instance', 'thread_id'], 'unique': True},
            {'columns': ['thread_loaded_at']},
        ],
        post_hook=["{{ analyze_when_new(this) }}"],
    )
}}
-- One row per mail thread of a monitored mailbox that is an interaction: started (first message)
-- by a sender outside the district's mail domains, or, on an internal-service mailbox, by anyone
-- who is not the mailbox or one of its responders (a district sender there is staff). A thread
-- started by an automated message is not an interaction. Agents: on an ordinary mailbox any
-- outbound message (district domain or Sent folder); on an internal mailbox only the mailbox's
-- own address and its configured responders. Automated messages never count as a response.
-- Every thread has a row; is_interaction says whether it is one, so that an incremental run
-- replaces a thread that stopped being one (an earlier message landed later) instead of
-- keeping it. subject_high_risk_term: the high-risk term the first message's subject matches.
-- Incremental: threads with a message loaded since the watermark are recomputed.
with

messages as (
    select thread_messages.*
    from {{ ref('stg_imap__messages') }} as thread_messages
    {%- if is_incremental() %}
    where (thread_messages.source_instance, thread_messages.thread_id) in (
        select
            changed.source_instance,
            changed.thread_id
        from {{ ref('stg_imap__messages') }} as changed
        where changed._loaded_at > {{ incremental_watermark('thread_loaded_at') }}
    )
    {%- endif %}
),

sources as (
    select * from {{ ref('stg_ref__sources') }}
),

classified as (
    select
        messages.source_system,
        messages.source_instance,
        messages.district_id,
        messages.thread_id,
        messages.message_key,
        messages.sent_at,
        messages.from_domain,
        messages.sender_is_district,
        messages.is_automated,
        messages.subject_high_risk_term,
        messages.person_hash,
        messages._loaded_at,
        coalesce(sources.is_internal, false) as is_internal_mailbox,
        case
            when coalesce(sources.is_internal, false)
                then
                    messages.from_address = sources.mailbox_address
                    or messages.from_address = any(sources.responders)
            else messages.direction = 'outbound' or messages.sender_is_district
        end as is_agent
    from messages
    left join sources
        on messages.source_instance = sources.source_instance
),

ordered as (
    select
        classified.*,
        row_number() over (
            partition by classified.source_instance, classified.thread_id
            order by classified.sent_at asc, classified.is_agent asc, classified.message_key asc
        ) as message_seq
    from classified
),

first_messages as (
    select
        ordered.*,
        not ordered.is_agent and not ordered.is_automated as is_interaction
    from ordered
    where ordered.message_seq = 1
),

replies as (
    select
        first_messages.source_instance,
        first_messages.thread_id,
        min(ordered.sent_at) as first_response_at,
        count(*)::int as agent_response_count
    from first_messages
    inner join ordered
        on
            first_messages.source_instance = ordered.source_instance
            and first_messages.thread_id = ordered.thread_id
    where
        ordered.is_agent
        and not ordered.is_automated
        and ordered.sent_at > first_messages.sent_at
    group by first_messages.source_instance, first_messages.thread_id
),

loads as (
    select
        ordered.source_instance,
        ordered.thread_id,
        max(ordered._loaded_at) as thread_loaded_at
    from ordered
    group by ordered.source_instance, ordered.thread_id
),

final as (
    select
        first_messages.source_system,
        first_messages.source_instance,
        first_messages.district_id,
        first_messages.thread_id,
        first_messages.sent_at as created_at,
        first_messages.from_domain,
        first_messages.sender_is_district,
        first_messages.is_internal_mailbox,
        first_messages.person_hash as requester_hash,
        first_messages.is_interaction,
        -- docs/metrics.md: the high-risk term of the thread's first subject
        first_messages.subject_high_risk_term,
        replies.first_response_at,
        coalesce(replies.agent_response_count, 0) as agent_response_count,
        loads.thread_loaded_at
    from first_messages
    left join replies
        on
            first_messages.source_instance = replies.source_instance
            and first_messages.thread_id = replies.thread_id
    inner join loads
        on
            first_messages.source_instance = loads.source_instance
            and first_messages.thread_id = loads.thread_id
)

select * from final
