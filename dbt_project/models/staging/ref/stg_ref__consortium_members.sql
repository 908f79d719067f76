-- ref.consortium_members, synced from the deployment config (schoolcx.refsync).
with

source as (
    select * from {{ source('ref', 'consortium_members') }}
),

renamed as (
    select
        source.consortium_id,
        source.district_id
    from source
)

select * from renamed
