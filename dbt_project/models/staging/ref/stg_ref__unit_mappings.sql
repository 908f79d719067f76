-- ref.unit_mappings, synced from the deployment config (schoolcx.refsync).
with

source as (
    select * from {{ source('ref', 'unit_mappings') }}
),

renamed as (
    select
        source.source_instance,
        source.unit_type,
        source.source_field,
        source.source_value,
        source.unit_value,
        source.precedence
    from source
)

select * from renamed
