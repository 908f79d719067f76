{{
    config(
        unique_key=['source_instance', 'conversation_id'],
        indexes=[
            {'columns': ['source_instance', 'conversation_id'], 'unique': True},
            {'columns': ['_loaded_at']},
            {'columns': ['source_instance', 'ticket_id']},
        ],
    )
}}
-- One row per Freshdesk conversation entry (reply or note). Addresses and bodies stay in raw.
with

source as (
    {{ latest_versions(source('freshdesk', 'freshdesk_conversations')) }}
),

renamed as (
    select
        source.source_system,
        source.source_instance,
        source.district_id,
        source.source_id as conversation_id,
        source.payload ->> 'ticket_id' as ticket_id,
        source.payload ->> 'user_id' as user_id,
        coalesce((source.payload ->> 'incoming')::boolean, false) as is_incoming,
        coalesce((source.payload ->> 'private')::boolean, false) as is_private,
        (source.payload ->> 'source')::int as source_code,
        (source.payload ->> 'created_at')::timestamptz as created_at,
        source.updated_at,
        source.person_hash,
        source._loaded_at
    from source
)

select * from renamed
