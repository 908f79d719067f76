-- ref.source_value_maps, synced from the deployment config (schoolcx.refsync): a helpdesk
-- source's channel_map and a Freshdesk source's status_map, keys trimmed and lower-cased.
with

source as (
    select * from {{ source('ref', 'source_value_maps') }}
),

renamed as (
    select
        source.source_instance,
        source.field,
        source.vendor_value,
        source.mapped_value
    from source
)

select * from renamed
