{#- High risk (METRICS.md "Response time"): tagged or categorised with one of the district's
    high-risk terms. A label (a tag or the topic) is normalised (trimmed, lower case, runs of
    spaces and hyphens to `_`) and matches as a whole or by one of its words (split on
    `_ : / .`): `bus_safety` is tagged safety, `Special Education` is special_education.
    `label` is an expression for one label; true when it matches one of `terms` (an array of
    normalised terms). Regular expressions cost: callers test distinct labels, not rows. -#}
{% macro is_high_risk_label(label, terms) -%}
    coalesce(
        {{ terms }} && (
            select
                array[normalised_label.normalised]
                || regexp_split_to_array(normalised_label.normalised, '[_:/.]+')
            from (
                select regexp_replace(lower(trim({{ label }})), '[\s-]+', '_', 'g') as normalised
            ) as normalised_label
        ),
        false
    )
{%- endmacro %}
