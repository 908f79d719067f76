{{
    config(
        unique_key=['source_instance', 'user_id'],
        indexes=[
            {'columns': ['source_instance', 'user_id'], 'unique': True},
            {'columns': ['_loaded_at']},
        ],
    )
}}
-- One row per Zendesk user. Names and emails stay in raw: person_hash identifies the person.
with

source as (
    {{ latest_versions(source('zendesk', 'zendesk_users')) }}
),

renamed as (
    select
        source.source_system,
        source.source_instance,
        source.district_id,
        source.source_id as user_id,
        lower(source.payload ->> 'role') as role,
        lower(source.payload ->> 'role') in ('agent', 'admin') as is_agent,
        source.payload ->> 'locale' as locale,
        {{ iso_language("source.payload ->> 'locale'") }} as language,
        source.payload ->> 'organization_id' as organization_id,
        coalesce(source.payload -> 'user_fields', '{}'::jsonb) as user_fields,
        -- the address's domain only (student / district / mapped domains tell stakeholder type)
        lower(split_part(source.payload ->> 'email', '@', 2)) as email_domain,
        source.person_hash,
        source.updated_at,
        source._loaded_at
    from source
)

select * from renamed
