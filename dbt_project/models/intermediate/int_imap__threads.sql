{{ config(materialized='view') }}
-- One row per mail thread of a monitored mailbox that is an interaction: started (first message)
-- by a sender outside the district's mail domains, or, on an internal-service mailbox, by anyone
-- who is not the mailbox or one of its responders (a district sender there is staff). A thread
-- started by an automated message is not an interaction. Agents: on an ordinary mailbox any
-- outbound message (district domain or Sent folder); on an internal mailbox only the mailbox's
-- own address and its configured responders. Automated messages never count as a response.
with

messages as (
    select * from {{ ref('stg_imap__messages') }}
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

starters as (
    select ordered.*
    from ordered
    where ordered.message_seq = 1 and not ordered.is_agent and not ordered.is_automated
),

replies as (
    select
        starters.source_instance,
        starters.thread_id,
        min(ordered.sent_at) as first_response_at,
        count(*)::int as agent_response_count
    from starters
    inner join ordered
        on
            starters.source_instance = ordered.source_instance
            and starters.thread_id = ordered.thread_id
    where
        ordered.is_agent
        and not ordered.is_automated
        and ordered.sent_at > starters.sent_at
    group by starters.source_instance, starters.thread_id
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
        starters.source_system,
        starters.source_instance,
        starters.district_id,
        starters.thread_id,
        starters.sent_at as created_at,
        starters.from_domain,
        starters.sender_is_district,
        starters.is_internal_mailbox,
        starters.person_hash as requester_hash,
        replies.first_response_at,
        coalesce(replies.agent_response_count, 0) as agent_response_count,
        loads.thread_loaded_at
    from starters
    left join replies
        on
            starters.source_instance = replies.source_instance
            and starters.thread_id = replies.thread_id
    inner join loads
        on
            starters.source_instance = loads.source_instance
            and starters.thread_id = loads.thread_id
)

select * from final
