{{ config(materialized='view') }}
-- Quarantine of interactions that break the metric contract (docs/metrics.md: a response or
-- resolution before created_at is a data error): one row per rejected interaction with its
-- reason, so the gate can count them. Never part of the facts.
with

interactions as (
    select * from {{ ref('int_interactions_unioned') }}
),

final as (
    select
        interactions.interaction_key,
        interactions.source_system,
        interactions.source_instance,
        interactions.source_id,
        interactions.district_id,
        interactions.created_at,
        interactions.first_response_at,
        interactions.resolved_at,
        interactions.reject_reason,
        interactions.last_loaded_at
    from interactions
    where interactions.reject_reason is not null
)

select * from final
