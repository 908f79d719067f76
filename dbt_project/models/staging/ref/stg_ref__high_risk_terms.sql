-- ref.high_risk_terms, synced from the deployment config (schoolcx.refsync).
with

source as (
    select * from {{ source('ref', 'high_risk_terms') }}
),

renamed as (
    select
        source.district_id,
        lower(source.term) as term
    from source
)

select * from renamed
