{{
    config(
        unique_key=['source_instance', 'row_key'],
        indexes=[
            {'columns': ['source_instance', 'row_key'], 'unique': True},
            {'columns': ['_loaded_at']},
        ],
    )
}}
-- One row per landed CSV row. Values stay text (files are untyped): intermediate models parse
-- them null-safely and reject what does not parse, with a reason. requester_email stays in raw.
with

source as (
    {{ latest_versions(source('file_drop', 'file_drop_rows')) }}
),

renamed as (
    select
        source.source_system,
        source.source_instance,
        source.district_id,
        source.source_id as row_key,
        source.payload ->> 'file' as file_name,
        source.payload ->> 'file_sha256' as file_sha256,
        (source.payload ->> 'row_number')::int as row_number,
        lower(source.payload ->> 'kind') as kind,
        nullif(trim(source.payload -> 'row' ->> 'id'), '') as row_id,
        -- interactions
        source.payload -> 'row' ->> 'created_at' as created_at_text,
        lower(nullif(trim(source.payload -> 'row' ->> 'channel'), '')) as channel_text,
        lower(nullif(trim(source.payload -> 'row' ->> 'topic'), '')) as topic,
        lower(nullif(trim(source.payload -> 'row' ->> 'priority'), '')) as priority_text,
        source.payload -> 'row' ->> 'first_response_at' as first_response_at_text,
        source.payload -> 'row' ->> 'resolved_at' as resolved_at_text,
        -- climate
        source.payload -> 'row' ->> 'submitted_at' as submitted_at_text,
        nullif(trim(source.payload -> 'row' ->> 'item_code'), '') as item_code,
        nullif(trim(source.payload -> 'row' ->> 'answer'), '') as answer_text,
        -- ratings
        {{ normalise_reference("source.payload -> 'row' ->> 'interaction_id'") }} as interaction_ref,
        source.payload -> 'row' ->> 'rated_at' as rated_at_text,
        nullif(trim(source.payload -> 'row' ->> 'rating'), '') as rating_text,
        {{ generate_schema_name('stg', none) }}.try_numeric(
            source.payload -> 'row' ->> 'scale_lo'
        ) as scale_lo,
        {{ generate_schema_name('stg', none) }}.try_numeric(
            source.payload -> 'row' ->> 'scale_hi'
        ) as scale_hi,
        source.person_hash,
        source.updated_at,
        source._loaded_at
    from source
)

select * from renamed
