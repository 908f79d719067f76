{#- Post-hook of the incremental facts: delete rows whose interaction is no longer a valid
    interaction upstream (quarantined since, or gone), which delete+insert alone would keep.
    Keeps an incremental run equal to a full refresh. A no-op on a full build. -#}
{% macro delete_stale_rows(target_relation, upstream_relation, upstream_filter) %}
delete from {{ target_relation }} as target_row
where not exists (
    select 1
    from {{ upstream_relation }} as upstream
    where upstream.interaction_key = target_row.interaction_key
        and {{ upstream_filter }}
)
{% endmacro %}
