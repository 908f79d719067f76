{{
    config(
        unique_key=['source_instance', 'contact_id'],
        indexes=[
            {'columns': ['source_instance', 'contact_id'], 'unique': True},
            {'columns': ['_loaded_at']},
        ],
    )
}}
-- One row per Freshdesk contact. Names and emails stay in raw: person_hash identifies them.
with

source as (
    {{ latest_versions(source('freshdesk', 'freshdesk_contacts')) }}
),

renamed as (
    select
        source.source_system,
        source.source_instance,
        source.district_id,
        source.source_id as contact_id,
        {{ iso_language("source.payload ->> 'language'") }} as language,
        source.payload ->> 'company_id' as company_id,
        coalesce(source.payload -> 'custom_fields', '{}'::jsonb) as custom_fields,
        lower(split_part(source.payload ->> 'email', '@', 2)) as email_domain,
        source.person_hash,
        source.updated_at,
        source._loaded_at
    from source
)

select * from renamed
