{{
    config(
        unique_key=['source_instance', 'rating_id'],
        indexes=[
            {'columns': ['source_instance', 'rating_id'], 'unique': True},
            {'columns': ['_loaded_at']},
        ],
    )
}}
-- One row per Zendesk satisfaction rating (latest version: ratings change after solve).
with

source as (
    {{ latest_versions(source('zendesk', 'zendesk_satisfaction_ratings')) }}
),

renamed as (
    select
        source.source_system,
        source.source_instance,
        source.district_id,
        source.source_id as rating_id,
        source.payload ->> 'ticket_id' as ticket_id,
        lower(source.payload ->> 'score') as score,
        (source.payload ->> 'created_at')::timestamptz as created_at,
        source.updated_at,
        source.payload ->> 'requester_id' as requester_id,
        source.payload ->> 'assignee_id' as assignee_id,
        source.payload ->> 'group_id' as group_id,
        source._loaded_at
    from source
)

select * from renamed
