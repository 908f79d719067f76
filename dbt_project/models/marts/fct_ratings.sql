{{
    config(
        materialized='incremental',
        unique_key='interaction_key',
        post_hook=[
            "{{ delete_stale_rows(this, ref('int_ratings_normalised'), 'upstream.is_latest') }}",
            "{{ analyze_when_new(this) }}",
        ]
    )
}}
-- One row per rated interaction: its latest valid rating (docs/metrics.md: the latest counts), as
-- given and on 1-5. Incremental: interactions with a rating or interaction record loaded since
-- the watermark (macros/incremental.sql) are recomputed; the post-hook drops rows whose
-- interaction no longer has a valid rating (quarantined since).
with

ratings as (
    select * from {{ ref('int_ratings_normalised') }}
),

changed_keys as (
    -- full build: every rated interaction; incremental: those with a record loaded recently
    select distinct changed.interaction_key
    from ratings as changed
    where
        changed.interaction_key is not null
        {% if is_incremental() -%}
        and changed.last_loaded_at > {{ incremental_watermark('last_loaded_at') }}
        {%- endif %}
),

latest as (
    select ratings.*
    from ratings
    inner join changed_keys
        on ratings.interaction_key = changed_keys.interaction_key
    where ratings.is_latest
),

final as (
    select
        latest.interaction_key::text as interaction_key,
        latest.district_id::text as district_id,
        latest.source_system::text as source_system,
        latest.source_instance::text as source_instance,
        latest.rated_at::timestamptz as rated_at,
        latest.rating_value::text as rating_value,
        latest.rating_scale::text as rating_scale,
        latest.rating_1_5::numeric as rating_1_5,
        latest.last_loaded_at::timestamptz as last_loaded_at
    from latest
)

select * from final
