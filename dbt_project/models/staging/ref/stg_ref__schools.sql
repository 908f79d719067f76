-- ref.schools, synced from the deployment config (schoolcx.refsync).
with

source as (
    select * from {{ source('ref', 'schools') }}
),

renamed as (
    select
        source.school_id,
        source.district_id,
        source.name as school_name
    from source
)

select * from renamed
