{{ config(materialized='view') }}
-- Quarantine of ratings (docs/metrics.md "Ratings": a value outside its scale, or a survey rating
-- whose reference matches no interaction, goes to quarantine with the reason; a rating is never
-- dropped in silence): one row per rejected rating with its reason, so it can be counted per
-- source and reason. Never part of the facts.
with

ratings as (
    select * from {{ ref('int_ratings_normalised') }}
),

final as (
    select
        ratings.source_system,
        ratings.source_instance,
        ratings.rating_id,
        ratings.district_id,
        ratings.interaction_ref,
        ratings.rated_at,
        ratings.rating_value,
        ratings.rating_scale,
        ratings.reject_reason,
        ratings.rating_loaded_at
    from ratings
    where ratings.reject_reason is not null
)

select * from final
