-- The seam for survey items (see int_benchmark_district_periods): this warehouse's
-- fct_survey_item_results (var benchmark_input 'local', default) or the items districts sent
-- a consortium hub (pool.survey_item_results, 'pooled').
{%- if benchmark_input() == 'pooled' %}
{%- set input_items = source('pool', 'survey_item_results') %}
{%- else %}
{%- set input_items = ref('fct_survey_item_results') %}
{%- endif %}

with

survey_items as (
    select
        survey_items.district_id,
        survey_items.school_year,
        survey_items.item_code,
        survey_items.valid_answers,
        survey_items.percent_agree
    from {{ input_items }} as survey_items
)

select * from survey_items
