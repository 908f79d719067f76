-- ref.sources, synced from the deployment config (schoolcx.refsync).
with

source as (
    select * from {{ source('ref', 'sources') }}
),

renamed as (
    select
        source.source_instance,
        source.district_id,
        source.source_type,
        source.internal as is_internal,
        lower(source.mailbox_address) as mailbox_address,
        source.responders,
        source.max_lag_hours,
        source.school_id,
        source.department,
        source.survey_kind,
        source.interaction_ref_question,
        source.rating_question,
        source.rating_scale_lo,
        source.rating_scale_hi,
        source.start_date
    from source
)

select * from renamed
