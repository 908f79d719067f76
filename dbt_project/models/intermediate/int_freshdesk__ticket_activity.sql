{{
    config(
        materialized='incremental',
        unique_key=['source_instance', 'ticket_id'],
        indexes=[
            {'columns': ['source_instance', 'ticket_id'], 'unique': True},
            {'columns': ['last_loaded_at']},
        ],
        post_hook=["{{ analyze_when_new(this) }}"],
    )
}}
-- One row per Freshdesk ticket that has conversations: the first public agent reply
-- (incoming = false, private = false, not written by the requester) and how many there are.
-- Freshdesk keeps a ticket's opening text in `description`, not among the conversations, so every
-- public agent reply after creation is a response, however quick. An agent-logged ticket whose
-- first public agent message carries the creation instant itself (a phone or walk-in ticket
-- written up as a reply) is opened by it: that message is not a response and the next one is,
-- as for Zendesk (VENDORS.md); stats.first_responded_at must not stand in for it. A reply before
-- creation stays the first response, so the ticket is quarantined downstream as a data error.
-- Incremental: tickets with a conversation or a ticket version loaded since the watermark are
-- recomputed from all their conversations. Tickets are joined by name, not through a CTE (read
-- twice, a CTE is materialized whole).
with

conversations as (
    {{ records_of_changed_tickets(ref('stg_freshdesk__conversations'), ref('stg_freshdesk__tickets')) }}
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
        conversations.created_at = tickets.created_at as at_creation
    from conversations
    inner join {{ ref('stg_freshdesk__tickets') }} as tickets
        on
            conversations.source_instance = tickets.source_instance
            and conversations.ticket_id = tickets.ticket_id
    -- an agent: not the requester (who can post an outgoing reply from the portal), not private
    where
        not conversations.is_incoming
        and not conversations.is_private
        and conversations.user_id is distinct from tickets.requester_id
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
        loaded.conversations_loaded_at,
        greatest(loaded.conversations_loaded_at, tickets._loaded_at) as last_loaded_at
    from loaded
    left join {{ ref('stg_freshdesk__tickets') }} as tickets
        on
            loaded.source_instance = tickets.source_instance
            and loaded.ticket_id = tickets.ticket_id
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
        loaded.conversations_loaded_at,
        tickets._loaded_at
)

select * from final
