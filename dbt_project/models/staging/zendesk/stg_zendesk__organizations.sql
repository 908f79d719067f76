{{
    config(
        unique_key=['source_instance', 'organization_id'],
        indexes=[
            {'columns': ['source_instance', 'organization_id'], 'unique': True},
            {'columns': ['_loaded_at']},
        ],
    )
}}
-- One row per Zendesk organization (names are unit names, not people).
with

source as (
    {{ latest_versions(source('zendesk', 'zendesk_organizations')) }}
),

renamed as (
    select
        source.source_system,
        source.source_instance,
        source.district_id,
        source.source_id as organization_id,
        source.payload ->> 'name' as organization_name,
        source.updated_at,
        source._loaded_at
    from source
)

select * from renamed
