{#- The instant an intraday cycle reports as of (schoolcx.intraday): var('intraday_at') (unit
    tests), else env SCHOOLCX_INTRADAY_AT (what a cycle sets: a changed env var re-parses only
    what reads it; a changed var would re-parse the whole project every 15 minutes), else now().
    `env_var is defined`: sqlfluff's templater has no env_var. -#}
{% macro intraday_instant() -%}
    {%- set at = var('intraday_at', none) -%}
    {%- if not at and env_var is defined -%}
        {%- set at = env_var('SCHOOLCX_INTRADAY_AT', '') -%}
    {%- endif -%}
    {%- if at -%}
        '{{ at }}'::timestamptz
    {%- else -%}
        now()
    {%- endif -%}
{%- endmacro %}
