-- ref.survey_rating_questions, synced from the deployment config (schoolcx.refsync): each
-- point-of-contact rating question with its own scale.
with

source as (
    select * from {{ source('ref', 'survey_rating_questions') }}
),

renamed as (
    select
        source.source_instance,
        source.question_id,
        source.scale_lo,
        source.scale_hi
    from source
)

select * from renamed
