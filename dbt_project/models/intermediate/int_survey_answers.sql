{{ config(materialized='view') }}
-- One row per climate survey answer: response x stable item code (ref.survey_items maps each
-- survey's own question ids), from Qualtrics (answer codes), SurveyMonkey (choice positions)
-- and file drops (item_code and answer given). Valid answers are 1..5 (strongly disagree ..
-- strongly agree); anything else ("don't know", blanks) is kept with is_valid = false.
with

districts as (
    select * from {{ ref('stg_ref__districts') }}
),

sources as (
    select * from {{ ref('stg_ref__sources') }}
),

survey_items as (
    select * from {{ ref('stg_ref__survey_items') }}
),

qualtrics_responses as (
    select * from {{ ref('stg_qualtrics__responses') }}
),

surveymonkey_responses as (
    select * from {{ ref('stg_surveymonkey__responses') }}
),

file_drop_rows as (
    select * from {{ ref('stg_file_drop__rows') }}
),

climate_sources as (
    select sources.source_instance
    from sources
    where coalesce(sources.survey_kind, 'climate') = 'climate'
),

answers as (
    select
        qualtrics_responses.source_instance,
        qualtrics_responses.district_id,
        qualtrics_responses.response_id,
        qualtrics_responses.submitted_at,
        survey_items.item_code,
        {{ generate_schema_name('stg', none) }}.try_numeric(
            qualtrics_responses.answers ->> survey_items.question_id
        ) as answer
    from qualtrics_responses
    inner join climate_sources
        on qualtrics_responses.source_instance = climate_sources.source_instance
    inner join survey_items
        on qualtrics_responses.source_instance = survey_items.source_instance
    union all
    select
        surveymonkey_responses.source_instance,
        surveymonkey_responses.district_id,
        surveymonkey_responses.response_id,
        surveymonkey_responses.submitted_at,
        survey_items.item_code,
        {{ generate_schema_name('stg', none) }}.try_numeric(
            surveymonkey_responses.answers -> survey_items.question_id ->> 'position'
        ) as answer
    from surveymonkey_responses
    inner join climate_sources
        on surveymonkey_responses.source_instance = climate_sources.source_instance
    inner join survey_items
        on surveymonkey_responses.source_instance = survey_items.source_instance
    union all
    select
        file_drop_rows.source_instance,
        file_drop_rows.district_id,
        file_drop_rows.row_key as response_id,
        coalesce(
            {{ parse_instant('file_drop_rows.submitted_at_text', 'districts.timezone') }},
            file_drop_rows.updated_at
        ) as submitted_at,
        coalesce(survey_items.item_code, file_drop_rows.item_code) as item_code,
        {{ generate_schema_name('stg', none) }}.try_numeric(file_drop_rows.answer_text) as answer
    from file_drop_rows
    left join districts
        on file_drop_rows.district_id = districts.district_id
    left join survey_items
        on
            file_drop_rows.source_instance = survey_items.source_instance
            and file_drop_rows.item_code = survey_items.question_id
    where file_drop_rows.kind = 'climate' and file_drop_rows.item_code is not null
),

final as (
    select
        answers.source_instance,
        answers.district_id,
        answers.response_id,
        answers.submitted_at,
        {{ local_date('answers.submitted_at', 'districts.timezone') }} as local_date,
        {{ school_year(local_date('answers.submitted_at', 'districts.timezone')) }} as school_year,
        answers.item_code,
        answers.answer,
        coalesce(answers.answer in (1, 2, 3, 4, 5), false) as is_valid,
        coalesce(answers.answer in (4, 5), false) as is_agree
    from answers
    inner join districts
        on answers.district_id = districts.district_id
)

select * from final
