{{ config(materialized='view') }}
-- One row per helpdesk ticket and email thread: when it was in the backlog (docs/metrics.md
-- "Service health": a ticket created and not solved or closed at that moment; an email thread
-- not yet answered), as a tstzmultirange, with what past due needs (first response, SLA target).
-- * Zendesk: from its creation, minus the spans its status changes put it in solved/closed
--   (int_zendesk__ticket_activity.solved_spans), so a ticket solved later, or solved and
--   reopened, was in the backlog in between. A ticket without status events but solved now
--   (an import): solved from resolved_at.
-- * Freshdesk keeps no status history, only its stats: solved from resolved_at while it stays
--   solved now, and [the last resolve or close, stats.reopened_at) when that came before the
--   last reopen. An earlier solve-and-reopen cycle of a ticket reopened several times is not
--   in the export (DECISIONLOG).
-- * Email threads: [created_at, first_response_at). File-drop rows (calls logged after the fact)
--   are neither and never in the backlog.
with

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
        interactions.resolved_at,
        interactions.status,
        interactions.sla_target_minutes
    from {{ ref('fct_interactions') }} as interactions
    where interactions.source_system in ('zendesk', 'freshdesk', 'imap')
),

final as (
    -- one pass (issue 19): the solved spans are computed beside the interaction, not in a CTE
    -- joined back on interaction_key (that materialized and sorted every interaction twice)
    select
        interactions.interaction_key,
        interactions.district_id,
        interactions.source_system,
        interactions.created_at,
        interactions.local_date,
        interactions.first_response_at,
        interactions.sla_target_minutes,
        case
            when interactions.source_system = 'imap'
                then tstzmultirange(
                    tstzrange(interactions.created_at, interactions.first_response_at, '[)')
                )
            else
                tstzmultirange(tstzrange(interactions.created_at, null, '[)'))
                - coalesce(
                    case
                        when interactions.source_system = 'zendesk'
                            then coalesce(
                                zendesk_activity.solved_spans,
                                case
                                    when interactions.resolved_at is not null
                                        then tstzmultirange(tstzrange(interactions.resolved_at, null, '[)'))
                                end
                            )
                        when interactions.source_system = 'freshdesk'
                            then
                                case
                                    when interactions.resolved_at is not null
                                        then tstzmultirange(tstzrange(interactions.resolved_at, null, '[)'))
                                    else '{}'::tstzmultirange
                                end
                                + case
                                    when
                                        least(freshdesk_tickets.stats_resolved_at, freshdesk_tickets.stats_closed_at)
                                        < freshdesk_tickets.stats_reopened_at
                                        then tstzmultirange(
                                            tstzrange(
                                                least(
                                                    freshdesk_tickets.stats_resolved_at,
                                                    freshdesk_tickets.stats_closed_at
                                                ),
                                                freshdesk_tickets.stats_reopened_at,
                                                '[)'
                                            )
                                        )
                                    else '{}'::tstzmultirange
                                end
                    end,
                    '{}'::tstzmultirange
                )
        end as backlog_spans
    from interactions
    left join {{ ref('int_zendesk__ticket_activity') }} as zendesk_activity
        on
            interactions.source_system = 'zendesk'
            and interactions.source_instance = zendesk_activity.source_instance
            and interactions.source_id = zendesk_activity.ticket_id
    left join {{ ref('stg_freshdesk__tickets') }} as freshdesk_tickets
        on
            interactions.source_system = 'freshdesk'
            and interactions.source_instance = freshdesk_tickets.source_instance
            and interactions.source_id = freshdesk_tickets.ticket_id
)

select * from final
