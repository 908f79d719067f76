-- ref.survey_items, synced from the deployment config (schoolcx.refsync).
with

source as (
    select * from {{ source('ref', 'survey_items') }}
),

renamed as (
    select
        source.source_instance,
        source.question_id,
        source.item_code
    from source
)

select * from renamed
