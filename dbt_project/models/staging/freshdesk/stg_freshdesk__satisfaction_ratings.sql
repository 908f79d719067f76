{{
    config(
        unique_key=['source_instance', 'rating_id'],
        indexes=[
            {'columns': ['source_instance', 'rating_id'], 'unique': True},
            {'columns': ['_loaded_at']},
        ],
    )
}}
-- One row per Freshdesk satisfaction rating; default_rating is the main question's code.
with

source as (
    {{ latest_versions(source('freshdesk', 'freshdesk_satisfaction_ratings')) }}
),

renamed as (
    select
        source.source_system,
        source.source_instance,
        source.district_id,
        source.source_id as rating_id,
        source.payload ->> 'survey_id' as survey_id,
        source.payload ->> 'ticket_id' as ticket_id,
        source.payload ->> 'user_id' as user_id,
        source.payload ->> 'agent_id' as agent_id,
        source.payload ->> 'group_id' as group_id,
        coalesce(source.payload -> 'ratings', '{}'::jsonb) as ratings,
        source.payload -> 'ratings' ->> 'default_question' as default_rating,
        (source.payload ->> 'created_at')::timestamptz as created_at,
        source.updated_at,
        source._loaded_at
    from source
)

select * from renamed
