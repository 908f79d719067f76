-- ref.departments, synced from the deployment config (schoolcx.refsync, migration 0017).
with

source as (
    select * from {{ source('ref', 'departments') }}
),

renamed as (
    select
        source.district_id,
        source.department
    from source
)

select * from renamed
