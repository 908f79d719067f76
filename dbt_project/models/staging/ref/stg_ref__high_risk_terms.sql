-- ref.high_risk_terms, synced from the deployment config (schoolcx.refsync): the defaults of
-- docs/metrics.md plus the district's own. term_words: the term's padded normal form, the form the
-- high-risk match compares (macros/classification.sql).
with

source as (
    select * from {{ source('ref', 'high_risk_terms') }}
),

renamed as (
    select
        source.district_id,
        lower(source.term) as term,
        {{ high_risk_words('source.term') }} as term_words
    from source
)

select * from renamed
