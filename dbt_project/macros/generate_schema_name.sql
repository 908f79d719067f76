{#- Use a model's custom schema as-is (stg, int, build), not <target>_<custom>.
    The intraday path (schoolcx.intraday) builds with var('schema_suffix') = '_intraday': its
    own stg_intraday, int_intraday and build_intraday, so a cycle never advances the nightly's
    incremental models (their watermarks and pending rows) nor writes into `build`. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set suffix = var('schema_suffix', '') -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}{{ suffix }}
    {%- else -%}
        {{ custom_schema_name | trim }}{{ suffix }}
    {%- endif -%}
{%- endmacro %}
