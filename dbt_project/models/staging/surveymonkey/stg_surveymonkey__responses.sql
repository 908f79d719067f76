{{
    config(
        unique_key=['source_instance', 'response_id'],
        indexes=[
            {'columns': ['source_instance', 'response_id'], 'unique': True},
            {'columns': ['_loaded_at']},
        ],
    )
}}
-- One row per SurveyMonkey response. answers: question id -> {choice_id, position, number,
-- choices}
-- resolved by the connector; open-ended answers are kept only when they are short references
-- (no spaces), for point-of-contact surveys that carry the interaction's reference.
with

source as (
    {{ latest_versions(source('surveymonkey', 'surveymonkey_responses')) }}
),

renamed as (
    select
        source.source_system,
        source.source_instance,
        source.district_id,
        source.source_id as response_id,
        source.payload ->> 'survey_id' as survey_id,
        coalesce(
            (source.payload ->> 'date_created')::timestamptz, source.updated_at
        ) as submitted_at,
        coalesce(
            (
                select
                    jsonb_object_agg(
                        answer.key,
                        jsonb_build_object(
                            'choice_id', answer.value ->> 'choice_id',
                            'position', answer.value -> 'position',
                            -- a choice's text only when it is a number (a rating): other
                            -- texts may be a person's own words and stay in raw
                            'number',
                            case
                                when trim(answer.value ->> 'text') ~ '^-?[0-9]+([.][0-9]+)?$'
                                    then trim(answer.value ->> 'text')
                            end,
                            'choices', answer.value -> 'choices'
                        )
                    )
                from jsonb_each(
                    coalesce(source.payload -> '_schoolcx' -> 'answers', '{}'::jsonb)
                ) as answer
            ),
            '{}'::jsonb
        ) as answers,
        coalesce(
            (
                select jsonb_object_agg(question.value ->> 'id', item.value ->> 'text')
                from
                    jsonb_array_elements(
                        coalesce(source.payload -> 'pages', '[]'::jsonb)
                    ) as page (value)
                cross join
                    lateral jsonb_array_elements(
                        coalesce(page.value -> 'questions', '[]'::jsonb)
                    ) as question (value)
                cross join
                    lateral jsonb_array_elements(
                        coalesce(question.value -> 'answers', '[]'::jsonb)
                    ) as item (value)
                where
                    item.value ? 'text'
                    and not item.value ? 'choice_id'
                    and item.value ->> 'text' ~ '^[A-Za-z0-9_:.#/-]{1,64}$'
            ),
            '{}'::jsonb
        ) as text_references,
        -- the configured reference question's answer, as the connector read it, normalised
        -- (a root Message-ID such as '<AbC.1@x.org>' is not a text_reference)
        {{ normalise_reference("source.payload -> '_schoolcx' ->> 'interaction_ref'") }}
            as interaction_ref,
        source.person_hash,
        source.updated_at,
        source._loaded_at
    from source
)

select * from renamed
