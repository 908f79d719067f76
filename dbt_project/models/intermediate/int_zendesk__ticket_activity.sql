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
-- One row per Zendesk ticket that has events: first non-automated agent response, the number of
-- agent responses, and its solve history.
-- * An agent response is a public comment by a user who is not the requester and not the system
--   (docs/metrics.md "Agent"), not made by a trigger/automation (via Rule) nor by the system user (-1).
--   The user's role is not asked: an agent later downgraded or deleted (Zendesk turns them into
--   end-users) or missing from the users export keeps the responses they gave.
-- * Agent-opened ticket (phone, walk-in: the first public comment, made in the creation audit at
--   the ticket's created_at, is not the requester's): the first response is the agent's second
--   public comment (as Zendesk's own first reply time). A comment before creation is not an
--   opening but a data error: it stays the first response and the ticket is quarantined downstream.
-- * last_solved_entry_at: the last time the ticket entered solved/closed from another status.
-- * solved_spans: when the ticket was solved or closed, as a multirange of [entry, next exit)
--   from its status changes in order (the last span open-ended while it stays solved): the
--   backlog of a past day reads it (fct_backlog_daily), so a ticket solved later, or solved and
--   reopened, was in the backlog in between.
-- Incremental: tickets with an event or a ticket version loaded since the watermark are
-- recomputed from all their events. The child events are a view over raw audits (nothing stores
-- them): a night reads each changed ticket's audits by raw's index on (source_instance,
-- payload ->> 'ticket_id'), a full build expands every audit, once per reader here. Tickets are joined by name, not through a CTE: read twice, a
-- CTE is materialized whole (every ticket of the history) and sorted for a merge join. For the
-- same reason child_events is `not materialized`: read three times, PostgreSQL stored every
-- child event of the history (63M at M, wide) in temporary files before the first read and ran
-- a year of M out of disk; expanded from raw by each reader, the model took 8 min at M with 9.2
-- GB of temporary files at its peak (DECISIONLOG "A year of M, run").
with

child_events as not materialized (
    {{ records_of_changed_tickets(ref('stg_zendesk__ticket_child_events'), ref('stg_zendesk__tickets')) }}
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
    inner join {{ ref('stg_zendesk__tickets') }} as tickets
        on
            child_events.source_instance = tickets.source_instance
            and child_events.ticket_id = tickets.ticket_id
    where child_events.is_comment and child_events.is_public
),

responses as (
    -- One pass: the opening comment (the first public comment, an agent's, at the creation
    -- instant) is neither the first response nor counted; the earliest other agent comment is.
    select
        public_comments.source_instance,
        public_comments.ticket_id,
        bool_or(public_comments.is_opening) as is_opened_by_agent,
        min(public_comments.created_at) filter (
            where public_comments.is_agent_response and not public_comments.is_opening
        ) as first_response_at,
        (
            count(*) filter (
                where public_comments.is_agent_response and not public_comments.is_opening
            )
        )::int as agent_response_count
    from (
        select
            numbered.*,
            numbered.comment_seq = 1
            and numbered.is_agent_response
            and numbered.created_at = numbered.ticket_created_at as is_opening
        from public_comments as numbered
    ) as public_comments
    group by public_comments.source_instance, public_comments.ticket_id
),

statuses as (
    -- one pass over every child event: the solve history and the latest load
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
        ) as is_reopened,
        max(child_events._loaded_at) as events_loaded_at
    from child_events
    group by child_events.source_instance, child_events.ticket_id
),

status_changes as (
    -- every status change in event order, with whether the status before it was solved/closed
    select
        child_events.source_instance,
        child_events.ticket_id,
        child_events.created_at,
        child_events.status in ('solved', 'closed') as is_solved,
        lag(child_events.status in ('solved', 'closed')) over (
            partition by child_events.source_instance, child_events.ticket_id
            order by
                child_events.created_at asc,
                length(child_events.event_id) asc,
                child_events.event_id asc,
                child_events.child_position asc
        ) as was_solved
    from child_events
    where child_events.status is not null
),

solve_transitions as (
    -- entries into and exits from solved/closed only: they alternate, so each entry's span
    -- ends at the next transition (an exit), or never
    select
        status_changes.source_instance,
        status_changes.ticket_id,
        status_changes.created_at,
        status_changes.is_solved,
        lead(status_changes.created_at) over (
            partition by status_changes.source_instance, status_changes.ticket_id
            order by status_changes.created_at
        ) as next_transition_at
    from status_changes
    where status_changes.is_solved != coalesce(status_changes.was_solved, false)
),

solved_spans as (
    select
        solve_transitions.source_instance,
        solve_transitions.ticket_id,
        range_agg(
            tstzrange(solve_transitions.created_at, solve_transitions.next_transition_at, '[)')
        ) as solved_spans
    from solve_transitions
    where solve_transitions.is_solved
    group by solve_transitions.source_instance, solve_transitions.ticket_id
),

final as (
    select
        statuses.source_instance,
        statuses.ticket_id,
        coalesce(responses.is_opened_by_agent, false) as is_opened_by_agent,
        responses.first_response_at,
        coalesce(responses.agent_response_count, 0) as agent_response_count,
        statuses.last_solved_entry_at,
        coalesce(statuses.is_ever_solved, false) as is_ever_solved,
        coalesce(statuses.is_reopened, false) as is_reopened,
        solved_spans.solved_spans,
        statuses.events_loaded_at,
        greatest(statuses.events_loaded_at, tickets._loaded_at) as last_loaded_at
    from statuses
    left join {{ ref('stg_zendesk__tickets') }} as tickets
        on
            statuses.source_instance = tickets.source_instance
            and statuses.ticket_id = tickets.ticket_id
    left join responses
        on
            statuses.source_instance = responses.source_instance
            and statuses.ticket_id = responses.ticket_id
    left join solved_spans
        on
            statuses.source_instance = solved_spans.source_instance
            and statuses.ticket_id = solved_spans.ticket_id
)

select * from final
