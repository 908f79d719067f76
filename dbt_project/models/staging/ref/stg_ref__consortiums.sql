-- ref.consortiums, synced from the deployment config (schoolcx.refsync).
with

source as (
    select * from {{ source('ref', 'consortiums') }}
),

renamed as (
    select
        source.consortium_id,
        source.name as consortium_name
    from source
)

select * from renamed
