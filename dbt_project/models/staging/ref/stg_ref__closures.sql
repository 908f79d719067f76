-- ref.closures, synced from the deployment config (schoolcx.refsync).
with

source as (
    select * from {{ source('ref', 'closures') }}
),

renamed as (
    select
        source.district_id,
        source.closure_date,
        source.reason as closure_reason
    from source
)

select * from renamed
