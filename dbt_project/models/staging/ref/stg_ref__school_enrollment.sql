-- ref.school_enrollment, synced from the deployment config (schoolcx.refsync).
with

source as (
    select * from {{ source('ref', 'school_enrollment') }}
),

renamed as (
    select
        source.school_id,
        source.school_year,
        source.enrollment
    from source
)

select * from renamed
