{#- The watermark of an incremental run: the latest load time this model has seen (its
    `column`, a load timestamp carried from raw `_loaded_at`) minus var('lookback_hours'), so a
    record committed late (raw `_loaded_at` is its load transaction's start, and a manual run can
    overlap the nightly one) is still picked up. Kept short: everything loaded within it is
    recomputed again, so a lookback of days would redo that many earlier nights every night. Late
    changes need no lookback: a changed record lands as a new version with a new load time.
    Records loaded after it are recomputed; '-infinity' on an empty model (after a crash emptied
    an unlogged table, the run recomputes everything by itself).
    Read when the model runs and inlined as a literal: compared with a subquery's value, the
    planner then estimates the few rows of one night from the load-time index and looks them
    up, instead of guessing a third of the table and scanning it. -#}
{% macro incremental_watermark(column, relation=none) -%}
    {%- set relation = relation or this -%}
    {%- if execute -%}
        {%- set found = run_query(
            "select (coalesce(max(" ~ column ~ "), '-infinity'::timestamptz) - interval '"
            ~ var("lookback_hours") ~ " hours')::text from " ~ relation
        ) -%}
        '{{ found.columns[0].values()[0] }}'::timestamptz
    {%- else -%}
        '-infinity'::timestamptz
    {%- endif -%}
{%- endmacro %}

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

{#- The tickets (source_instance, ticket_id) of `relation` rows whose load time `column` is past
    the calling model's watermark (its `last_loaded_at`). -#}
{% macro tickets_loaded_since(relation, column) -%}
    select
        loaded.source_instance,
        loaded.ticket_id
    from {{ relation }} as loaded
    where loaded.{{ column }} > {{ incremental_watermark('last_loaded_at') }}
{%- endmacro %}

{#- The helpdesk tickets (source_instance, ticket_id) an incremental int_interactions_unioned
    recomputes: those whose ticket version, activity (events or conversations) or requester
    (user or contact) was loaded since its watermark. -#}
{% macro changed_helpdesk_tickets(tickets, activity, people, person_key) -%}
    {{ tickets_loaded_since(tickets, '_loaded_at') }}
    union
    {{ tickets_loaded_since(activity, 'last_loaded_at') }}
    union
    select
        requested.source_instance,
        requested.ticket_id
    from {{ tickets }} as requested
    inner join {{ people }} as changed_people
        on
            requested.source_instance = changed_people.source_instance
            and requested.requester_id = changed_people.{{ person_key }}
    where changed_people._loaded_at > {{ incremental_watermark('last_loaded_at') }}
{%- endmacro %}

{#- The per-ticket records (Zendesk child events, Freshdesk conversations) an incremental
    activity model recomputes from: every record of each ticket with a record or a ticket
    version loaded since the model's watermark (all records on a full build). -#}
{% macro records_of_changed_tickets(records, tickets) -%}
    {%- if is_incremental() %}
    select ticket_records.*
    from (
        {{ tickets_loaded_since(records, '_loaded_at') }}
        union
        {{ tickets_loaded_since(tickets, '_loaded_at') }}
    ) as changed_tickets
    -- one index lookup per changed ticket ("offset 0" keeps the lateral subquery a
    -- parameterized scan: as a join, the planner hashes a scan of the whole history)
    cross join lateral (
        select all_records.*
        from {{ records }} as all_records
        where
            all_records.source_instance = changed_tickets.source_instance
            and all_records.ticket_id = changed_tickets.ticket_id
        offset 0
    ) as ticket_records
    {%- else %}
    select all_records.*
    from {{ records }} as all_records
    {%- endif %}
{%- endmacro %}

{#- Post-hook: ANALYZE a table that has no statistics yet (built in full in this run), so the
    models after it plan with its real size and distributions. A table updated incrementally
    keeps its statistics (autovacuum refreshes them as rows accumulate): analyzing millions of
    rows for one night's thousands costs more than the night. A view (a staging model over raw
    that stores nothing) has nothing to analyze: skipped. -#}
{% macro analyze_when_new(relation) -%}
do $analyze$
begin
    if exists (
        select 1
        from pg_tables
        where schemaname = '{{ relation.schema }}' and tablename = '{{ relation.identifier }}'
    ) and not exists (
        select 1
        from pg_stats
        where schemaname = '{{ relation.schema }}' and tablename = '{{ relation.identifier }}'
    ) then
        execute 'analyze {{ relation }}';
    end if;
end
$analyze$
{%- endmacro %}

{#- Post-hook of unit_scorecard (incremental by district period): delete the groups of
    `target` whose district period has no interaction any more in `district_periods`
    (district_scorecard, built in full each run). delete+insert replaces only the groups the
    run wrote rows for, and a period left without interactions has none. A no-op on a full
    build. -#}
{% macro delete_vanished_unit_periods(target, district_periods) %}
delete from {{ target }} as target_row
where not exists (
    select 1
    from {{ district_periods }} as current_periods
    where
        current_periods.district_id = target_row.district_id
        and current_periods.period_type = target_row.period_type
        and current_periods.period_start = target_row.period_start
        and current_periods.interactions > 0
)
{% endmacro %}
