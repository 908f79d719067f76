{{ config(materialized='view') }}
-- One row per Freshdesk ticket that has conversations: the first public agent reply
-- (incoming = false and private = false) and how many there are.
with

conversations as (
    select * from {{ ref('stg_freshdesk__conversations') }}
),

final as (
    select
        conversations.source_instance,
        conversations.ticket_id,
        min(conversations.created_at) filter (
            where not conversations.is_incoming and not conversations.is_private
        ) as first_reply_at,
        (
            count(*) filter (where not conversations.is_incoming and not conversations.is_private)
        )::int as agent_reply_count,
        max(conversations._loaded_at) as conversations_loaded_at
    from conversations
    group by conversations.source_instance, conversations.ticket_id
)

select * from final
