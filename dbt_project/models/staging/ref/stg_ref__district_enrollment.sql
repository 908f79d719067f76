-- ref.district_enrollment, synced from the deployment config (schoolcx.refsync).
with

source as (
    select * from {{ source('ref', 'district_enrollment') }}
),

renamed as (
    select
        source.district_id,
        source.school_year,
        source.enrollment
    from source
)

select * from renamed
