{{
    config(
        unique_key=['source_instance', 'group_id'],
        indexes=[
            {'columns': ['source_instance', 'group_id'], 'unique': True},
            {'columns': ['_loaded_at']},
        ],
    )
}}
-- One row per Zendesk group (names are unit names, not people).
with

source as (
    {{ latest_versions(source('zendesk', 'zendesk_groups')) }}
),

renamed as (
    select
        source.source_system,
        source.source_instance,
        source.district_id,
        source.source_id as group_id,
        source.payload ->> 'name' as group_name,
        source.updated_at,
        source._loaded_at
    from source
)

select * from renamed
