-- One row per Qualtrics response. answers keeps the question answers (QID keys) that are codes
-- or short references; free-text answers (anything with spaces, or long) stay in raw.
with

source as (
    {{ latest_versions(source('qualtrics', 'qualtrics_responses')) }}
),

renamed as (
    select
        source.source_system,
        source.source_instance,
        source.district_id,
        source.source_id as response_id,
        coalesce(
            (source.payload -> 'values' ->> 'recordedDate')::timestamptz, source.updated_at
        ) as submitted_at,
        coalesce(
            (
                select jsonb_object_agg(answer.key, answer.value)
                from jsonb_each(coalesce(source.payload -> 'values', '{}'::jsonb)) as answer
                where
                    answer.key ~ '^QID'
                    and (
                        jsonb_typeof(answer.value) = 'number'
                        or (
                            jsonb_typeof(answer.value) = 'string'
                            and answer.value #>> '{}' ~ '^[A-Za-z0-9_:.#/-]{1,64}$'
                        )
                    )
            ),
            '{}'::jsonb
        ) as answers,
        source.person_hash,
        source.updated_at,
        source._loaded_at
    from source
)

select * from renamed
