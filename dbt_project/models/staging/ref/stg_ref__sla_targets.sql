-- ref.sla_targets, synced from the deployment config (schoolcx.refsync).
with

source as (
    select * from {{ source('ref', 'sla_targets') }}
),

renamed as (
    select
        source.district_id,
        source.priority,
        source.target_business_minutes
    from source
)

select * from renamed
