{#- Where the benchmark models read their inputs (issue 15, consortium pooling): 'local', the
    district figures this warehouse computes (a district's deployment, the default), or
    'pooled', the aggregates districts sent a consortium hub (dbt sources on schema `pool`).
    Only the seam models (int_benchmark_district_periods, int_benchmark_survey_items,
    dim_district) look at it; every benchmark model above them is the same in both. -#}
{% macro benchmark_input() -%}
    {%- set value = var('benchmark_input', 'local') -%}
    {%- if execute and value not in ('local', 'pooled') -%}
        {{ exceptions.raise_compiler_error(
            "var benchmark_input must be 'local' or 'pooled', not '" ~ value ~ "'") }}
    {%- endif -%}
    {{- return(value) -}}
{%- endmacro %}
