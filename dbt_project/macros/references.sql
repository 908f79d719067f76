{#- An interaction reference as a rating names it, normalised for comparison (docs/metrics.md
    "Ratings"): a helpdesk ticket id as given (trimmed), an email thread's root Message-ID as
    the address inside the angle brackets, lower case ('<AbC.1@x.org>' = 'abc.1@x.org'), which
    is how IMAP staging keeps thread ids. A '<source instance>:' prefix is kept. Empty: NULL. -#}
{% macro normalise_reference(expr) -%}
    nullif(
        case
            when ({{ expr }}) like '%@%'
                then lower(regexp_replace(trim({{ expr }}), '^([^<]*)<([^<>]*)>.*$', '\1\2'))
            else regexp_replace(trim({{ expr }}), '^([^<]*)<([^<>]*)>.*$', '\1\2')
        end,
        ''
    )
{%- endmacro %}
