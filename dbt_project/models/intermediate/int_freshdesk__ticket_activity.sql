{{ config(materialized='view') }}
-- One row per Freshdesk ticket that has conversations: the first public agent reply
-- (incoming = false and private = false) and how many there are.
-- Agent-opened ticket (phone, walk-in): the agent's public message made at creation (within a
-- minute) opens the ticket and is not a response; the first reply is the next one, as for
-- Zendesk (VENDORS.md), and stats.first_responded_at must not stand in for it.
with

conversations as (
    select * from {{ ref('stg_freshdesk__conversations') }}
),

tickets as (
    select
        source_instance,
        ticket_id,
        created_at
    from {{ ref('stg_freshdesk__tickets') }}
),

public_replies as (
    select
        conversations.source_instance,
        conversations.ticket_id,
        conversations.created_at,
        row_number() over (
            partition by conversations.source_instance, conversations.ticket_id
            order by conversations.created_at, conversations.conversation_id
        ) as reply_number,
        conversations.created_at <= tickets.created_at + interval '1 minute' as at_creation
    from conversations
    inner join tickets
        on
            conversations.source_instance = tickets.source_instance
            and conversations.ticket_id = tickets.ticket_id
    where not conversations.is_incoming and not conversations.is_private
),

opened_by_agent as (
    select
        source_instance,
        ticket_id
    from public_replies
    where reply_number = 1 and at_creation
),

loaded as (
    select
        source_instance,
        ticket_id,
        max(_loaded_at) as conversations_loaded_at
    from conversations
    group by source_instance, ticket_id
),

final as (
    select
        loaded.source_instance,
        loaded.ticket_id,
        opened_by_agent.ticket_id is not null as is_opened_by_agent,
        min(public_replies.created_at) filter (
            where public_replies.reply_number > case when opened_by_agent.ticket_id is not null then 1 else 0 end
        ) as first_reply_at,
        (
            count(public_replies.created_at) filter (
                where public_replies.reply_number > case when opened_by_agent.ticket_id is not null then 1 else 0 end
            )
        )::int as agent_reply_count,
        loaded.conversations_loaded_at
    from loaded
    left join public_replies
        on
            loaded.source_instance = public_replies.source_instance
            and loaded.ticket_id = public_replies.ticket_id
    left join opened_by_agent
        on
            loaded.source_instance = opened_by_agent.source_instance
            and loaded.ticket_id = opened_by_agent.ticket_id
    group by
        loaded.source_instance,
        loaded.ticket_id,
        opened_by_agent.ticket_id,
        loaded.conversations_loaded_at
)

select * from final
