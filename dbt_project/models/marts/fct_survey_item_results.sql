-- Climate survey agreement per district, school year and stable item code (docs/metrics.md "Climate
-- survey items"): percent_agree = (agree + strongly agree) / valid answers * 100.
with

answers as (
    select * from {{ ref('int_survey_answers') }}
),

final as (
    select
        answers.district_id::text as district_id,
        answers.school_year::integer as school_year,
        answers.item_code::text as item_code,
        (count(*) filter (where answers.is_valid))::integer as valid_answers,
        (count(*) filter (where answers.is_valid and answers.is_agree))::integer as agree_answers,
        (
            100.0 * count(*) filter (where answers.is_valid and answers.is_agree)
            / count(*) filter (where answers.is_valid)
        )::numeric as percent_agree
    from answers
    group by answers.district_id, answers.school_year, answers.item_code
    having count(*) filter (where answers.is_valid) > 0
)

select * from final
