{#- High risk (docs/metrics.md "Response time"): a district's high-risk term matches one of an
    interaction's tags, its topic / category, or its subject, case-insensitively, as a whole word
    or phrase. `legal` matches "Question about legal (ref 3264)" and "legal-aid", not
    "illegally"; `special education` matches "Special  Education" and "special_education".

    Both sides are put in one normal form once, and a match is then a substring test (no regular
    expression per row and term, see DECISIONLOG.md "High-risk terms"):
    - lower case;
    - each ASCII punctuation character other than `-` and `_` becomes ` . `: a word boundary that
      is not a separator (`safety:bus` has the word safety; `special.education` is not the
      phrase special education);
    - runs of whitespace (Unicode's, as Python's `\s`: a no-break space too), `_` and `-`
      become one space (the separators between words);
    - padded with a space at both ends.
    A term matches when its padded normal form is a substring of the text's. Characters outside
    ASCII count as letters (the same on every server locale). -#}
{% macro high_risk_words(text) -%}
    ' ' || regexp_replace(
        regexp_replace(lower(coalesce({{ text }}, '')), '[!-,./:-@[-^`{-~]', ' . ', 'g'),
        '[ \t\n\r\f\v\x1c-\x1f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000_-]+',
        ' ',
        'g'
    ) || ' '
{%- endmacro %}

{#- Per district, the padded normal forms of its terms (one row per district): for a join on
    district_id, then high_risk_term() below. Terms without a letter or digit never match. -#}
{% macro high_risk_term_lists(terms_relation) -%}
    select
        risk_terms.district_id,
        array_agg(distinct risk_terms.term_words order by risk_terms.term_words) as term_words
    from {{ terms_relation }} as risk_terms
    where risk_terms.term_words ~ '[a-z0-9]|[^\x01-\x7f]'
    group by risk_terms.district_id
{%- endmacro %}

{#- The matched term (its normal form without padding, e.g. `special education`) of `words` (a
    text already in normal form, high_risk_words) against `term_words` (a district's array from
    high_risk_term_lists); NULL when none matches, and the first in alphabetical order when
    several do. `words` must be a column (e.g. of `cross join lateral unnest(array[...])`), not
    the high_risk_words() expression itself: inside this correlated subquery an expression would
    be evaluated once per term, a column is passed in once per row. -#}
{% macro high_risk_term(words, term_words) -%}
    (
        select min(btrim(risk_term.words))
        from unnest({{ term_words }}) as risk_term (words)
        where position(risk_term.words in {{ words }}) > 0
    )
{%- endmacro %}

{#- The joins a staging model that reads a subject from raw adds after `from source`: the
    subject's normal form once per row (a function scan, not folded into each term's test) as
    subject_text.words, and the district's term list as high_risk_terms (a CTE built with
    high_risk_term_lists). Only the matched term (high_risk_term) leaves the model, never the
    subject. -#}
{% macro subject_high_risk_joins(subject) -%}
    cross join
        lateral unnest(
            array[{{ high_risk_words(subject) }}]
        ) as subject_text (words)
    left join high_risk_terms
        on source.district_id = high_risk_terms.district_id
{%- endmacro %}
