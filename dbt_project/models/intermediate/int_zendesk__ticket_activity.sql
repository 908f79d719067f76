{{ config(materialized='view') }}
-- One row per Zendesk ticket that has events: first non-automated agent response, the number of
-- agent responses, and its solve history.
-- * An agent response is a public comment by a user who is not the requester and not the system
--   (METRICS.md "Agent"), not made by a trigger/automation (via Rule) nor by the system user (-1).
--   The user's role is not asked: an agent later downgraded or deleted (Zendesk turns them into
--   end-users) or missing from the users export keeps the responses they gave.
-- * Agent-opened ticket (phone, walk-in: the first public comment, made in the creation audit at
--   the ticket's created_at, is not the requester's): the first response is the agent's second
--   public comment (as Zendesk's own first reply time). A comment before creation is not an
--   opening but a data error: it stays the first response and the ticket is quarantined downstream.
-- * last_solved_entry_at: the last time the ticket entered solved/closed from another status.
with

tickets as (
    select * from {{ ref('stg_zendesk__tickets') }}
),

child_events as (
    select * from {{ ref('stg_zendesk__ticket_child_events') }}
),

public_comments as (
    select
        child_events.source_instance,
        child_events.ticket_id,
        child_events.created_at,
        tickets.created_at as ticket_created_at,
        (
            not child_events.is_automated
            and child_events.author_id is not null
            and child_events.author_id is distinct from tickets.requester_id
        ) as is_agent_response,
        row_number() over (
            partition by child_events.source_instance, child_events.ticket_id
            order by
                child_events.created_at asc,
                length(child_events.event_id) asc,
                child_events.event_id asc,
                child_events.child_position asc
        ) as comment_seq
    from child_events
    inner join tickets
        on
            child_events.source_instance = tickets.source_instance
            and child_events.ticket_id = tickets.ticket_id
    where child_events.is_comment and child_events.is_public
),

agent_responses as (
    select
        public_comments.source_instance,
        public_comments.ticket_id,
        public_comments.created_at,
        public_comments.comment_seq,
        row_number() over (
            partition by public_comments.source_instance, public_comments.ticket_id
            order by public_comments.comment_seq
        ) as response_seq
    from public_comments
    where public_comments.is_agent_response
),

opened_by_agent as (
    select
        public_comments.source_instance,
        public_comments.ticket_id,
        public_comments.is_agent_response
        and public_comments.created_at = public_comments.ticket_created_at as is_opened_by_agent
    from public_comments
    where public_comments.comment_seq = 1
),

responses as (
    select
        agent_responses.source_instance,
        agent_responses.ticket_id,
        coalesce(bool_or(opened_by_agent.is_opened_by_agent), false) as is_opened_by_agent,
        min(agent_responses.created_at) filter (
            where agent_responses.response_seq
            = case when coalesce(opened_by_agent.is_opened_by_agent, false) then 2 else 1 end
        ) as first_response_at,
        count(*) filter (
            where not (
                coalesce(opened_by_agent.is_opened_by_agent, false)
                and agent_responses.response_seq = 1
            )
        )::int as agent_response_count
    from agent_responses
    left join opened_by_agent
        on
            agent_responses.source_instance = opened_by_agent.source_instance
            and agent_responses.ticket_id = opened_by_agent.ticket_id
    group by agent_responses.source_instance, agent_responses.ticket_id
),

statuses as (
    select
        child_events.source_instance,
        child_events.ticket_id,
        max(child_events.created_at) filter (
            where child_events.status in ('solved', 'closed')
            and coalesce(child_events.previous_status, '') not in ('solved', 'closed')
        ) as last_solved_entry_at,
        coalesce(bool_or(child_events.status in ('solved', 'closed')), false) as is_ever_solved,
        coalesce(
            bool_or(
                child_events.previous_status in ('solved', 'closed')
                and child_events.status not in ('solved', 'closed')
            ),
            false
        ) as is_reopened
    from child_events
    where child_events.status is not null
    group by child_events.source_instance, child_events.ticket_id
),

loads as (
    select
        child_events.source_instance,
        child_events.ticket_id,
        max(child_events._loaded_at) as events_loaded_at
    from child_events
    group by child_events.source_instance, child_events.ticket_id
),

final as (
    select
        loads.source_instance,
        loads.ticket_id,
        coalesce(responses.is_opened_by_agent, false) as is_opened_by_agent,
        responses.first_response_at,
        coalesce(responses.agent_response_count, 0) as agent_response_count,
        statuses.last_solved_entry_at,
        coalesce(statuses.is_ever_solved, false) as is_ever_solved,
        coalesce(statuses.is_reopened, false) as is_reopened,
        loads.events_loaded_at
    from loads
    left join responses
        on
            loads.source_instance = responses.source_instance
            and loads.ticket_id = responses.ticket_id
    left join statuses
        on
            loads.source_instance = statuses.source_instance
            and loads.ticket_id = statuses.ticket_id
)

select * from final
