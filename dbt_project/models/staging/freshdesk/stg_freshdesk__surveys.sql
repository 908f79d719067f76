{{
    config(
        unique_key=['source_instance', 'survey_id'],
        indexes=[
            {'columns': ['source_instance', 'survey_id']},
            {'columns': ['_loaded_at']},
        ],
    )
}}
-- One row per Freshdesk survey question with its accepted rating codes, ordered from most
-- unhappy to most happy (the order fixes the 1..p rank used to normalise ratings).
with

source as (
    {{ latest_versions(source('freshdesk', 'freshdesk_surveys')) }}
),

questions as (
    select
        source.source_system,
        source.source_instance,
        source.district_id,
        source.source_id as survey_id,
        source.payload ->> 'title' as survey_title,
        coalesce((source.payload ->> 'active')::boolean, false) as is_active,
        question.value ->> 'id' as question_id,
        question.value -> 'accepted_ratings' as accepted_ratings,
        source.updated_at,
        source._loaded_at
    from source
    cross join lateral jsonb_array_elements(
        case
            when jsonb_typeof(source.payload -> 'questions') = 'array'
                then source.payload -> 'questions'
            else '[]'::jsonb
        end
    ) as question (value)
),

renamed as (
    select
        questions.source_system,
        questions.source_instance,
        questions.district_id,
        questions.survey_id,
        questions.survey_title,
        questions.is_active,
        questions.question_id,
        coalesce(
            array(
                select code.value::int
                from
                    jsonb_array_elements_text(questions.accepted_ratings)
                    with ordinality as code (value, ordinality)
                order by code.ordinality
            ),
            '{}'::int[]
        ) as accepted_ratings,
        questions.updated_at,
        questions._loaded_at
    from questions
)

select * from renamed
