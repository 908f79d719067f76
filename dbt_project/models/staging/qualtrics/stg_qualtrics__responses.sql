{{
    config(
        unique_key=['source_instance', 'response_id'],
        indexes=[
            {'columns': ['source_instance', 'response_id'], 'unique': True},
            {'columns': ['_loaded_at']},
        ],
    )
}}
-- One row per Qualtrics response. answers keeps the question answers (QID keys) and embedded
-- data fields (a point-of-contact survey's ticket reference arrives as embedded data, e.g.
-- ticket_id) that are codes or short references; free text (anything with spaces, or long)
-- and the export's metadata that identifies a person (IP, recipient, location) stay in raw.
-- interaction_ref: a point-of-contact response's interaction reference as the connector read
-- it from the configured question (_schoolcx.interaction_ref), normalised for comparison: a
-- thread's root Message-ID ('<AbC.1@x.org>') would not pass the answers filter.
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
                    answer.key not in (
                        'ipAddress', 'recipientEmail', 'recipientFirstName',
                        'recipientLastName', 'locationLatitude', 'locationLongitude',
                        '_recordId', 'responseId', 'startDate', 'endDate', 'recordedDate',
                        'status', 'progress', 'duration', 'finished', 'distributionChannel',
                        'userLanguage'
                    )
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
        {{ normalise_reference("source.payload -> '_schoolcx' ->> 'interaction_ref'") }}
            as interaction_ref,
        source.person_hash,
        source.updated_at,
        source._loaded_at
    from source
)

select * from renamed
