{#- Facts partitioned by school year (METRICS.md "Periods": 1 July to 30 June, named by its end
    year), declaratively: the parent is `partition by range (<school_year_date>)`, one partition
    per school year, named <table>_y<year> and bounded [1 July year-1, 1 July year). A night then
    writes the partitions of the years in its batch (the current one, as a rule), and an old
    year can be detached and archived (`schoolcx warehouse archive-year`; publish mirrors the
    partitions into `marts`, schoolcx.publish.partitions).

    materialized='school_year_partitioned', school_year_date='<date column>': the incremental
    materialization with two changes.
    - Create (first build, full refresh): the parent with the contract's columns and
      constraints (a primary key must include the date column: a partitioned table's unique
      constraints include its partition key), then the partitions of the years the rows fall
      in, then the rows.
    - Incremental: the batch lands in a temp table, its years get their partitions, and each
      year's delete+insert names that year's bounds as literals, so the planner prunes the
      delete to that one partition (a join on the unique key alone would visit every year).
    Indexes (config `indexes`) go on the parent: Postgres puts them on every partition, also
    those made later. Hooks, grants and docs as in dbt's incremental. A unique key's rows must
    keep their date (an interaction's creation date does). -#}

{#- The school year (end year) of a date: the year of the date six months later. -#}
{% macro school_year_of(date_column) -%}
    cast(extract(year from {{ dbt.dateadd('month', 6, date_column) }}) as integer)
{%- endmacro %}

{#- Its bounds as date literals: [1 July year-1, 1 July year). -#}
{% macro school_year_bounds(year) -%}
    {{ return(["'" ~ (year - 1) ~ "-07-01'", "'" ~ year ~ "-07-01'"]) }}
{%- endmacro %}

{#- The school years of `relation`'s rows, ascending (integers). -#}
{% macro school_years_in(relation, date_column) %}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set found = run_query(
        "select distinct " ~ school_year_of(date_column) ~ " from " ~ relation
        ~ " where " ~ date_column ~ " is not null order by 1"
    ) -%}
    {{ return(found.columns[0].values() | map('int') | list) }}
{% endmacro %}

{#- DDL: a partition of `parent` for each school year in `years` that has none yet, named
    <parent>_y<year> (create ... if not exists: a year's partition is made once). Unlogged when
    the model is (a partitioned parent cannot be; it holds no rows). -#}
{% macro create_school_year_partitions(parent, years) -%}
    {%- set base = parent.identifier -%}
    {%- for year in years %}
    {%- set bounds = school_year_bounds(year) %}
    create {% if config.get('unlogged') %}unlogged {% endif -%}
    table if not exists {{ parent.incorporate(path={'identifier': base ~ '_y' ~ year}) }}
        partition of {{ parent }} for values from ({{ bounds[0] }}) to ({{ bounds[1] }});
    {%- endfor %}
{%- endmacro %}

{#- DDL: rename every partition of `relation` to <relation>_y<year> (its bound's end year), so
    a full refresh's swap (the new parent takes the model's name, the old one its backup name)
    leaves each parent's partitions named after it. -#}
{% macro name_school_year_partitions(relation) -%}
do $rename$
declare
    part record;
begin
    for part in
        select
            child.relname as current_name,
            '{{ relation.identifier }}_y' || substring(
                pg_get_expr(child.relpartbound, child.oid) from 'TO \(''(\d{4})-'
            ) as wanted_name
        from pg_inherits as inh
        inner join pg_class as child on inh.inhrelid = child.oid
        where inh.inhparent = to_regclass('{{ relation }}')
    loop
        if part.current_name <> part.wanted_name then
            execute format(
                'alter table %I.%I rename to %I',
                '{{ relation.schema }}', part.current_name, part.wanted_name
            );
        end if;
    end loop;
end
$rename$
{%- endmacro %}

{#- Create path: parent from the contract (or the query's columns), partitions, rows. -#}
{% macro create_school_year_partitioned(relation, sql, date_column) -%}
    {%- set rows = make_temp_relation(relation, '__rows') -%}
    {%- do run_query(get_create_table_as_sql(True, rows, sql)) -%}
    {%- set years = school_years_in(rows, date_column) -%}
    {%- set contract_config = config.get('contract') %}
    create table {{ relation }}
    {%- if contract_config.enforced %}
    {{ get_assert_columns_equivalent(sql) }}
    {{ get_table_columns_and_constraints() }}
    {%- else %}
    (like {{ rows }})
    {%- endif %}
    partition by range ({{ date_column }});
    {{ create_school_year_partitions(relation, years) }}
    insert into {{ relation }} ({{ get_quoted_csv(adapter.get_columns_in_relation(rows) | map(attribute='name')) }})
    select * from {{ rows }};
    drop table {{ rows }};
{%- endmacro %}

{#- Incremental path: for each school year of the batch, its partition (made if new), then a
    delete of the batch's keys within the year's bounds and an insert of the year's rows. -#}
{% macro school_year_delete_insert(target, source, unique_key, dest_columns, date_column) -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set columns = get_quoted_csv(dest_columns | map(attribute='name')) -%}
    {%- set years = school_years_in(source, date_column) -%}
    {%- if not years %}
    select 0 as nothing_to_write;  {#- a quiet night: an empty batch (main needs a statement) #}
    {%- endif %}
    {{ create_school_year_partitions(target, years) }}
    {%- for year in years %}
    {%- set bounds = school_year_bounds(year) %}
    delete from {{ target }} as target_row
    using {{ source }} as batch_row
    where
        target_row.{{ date_column }} >= {{ bounds[0] }}
        and target_row.{{ date_column }} < {{ bounds[1] }}
        and batch_row.{{ date_column }} >= {{ bounds[0] }}
        and batch_row.{{ date_column }} < {{ bounds[1] }}
        {%- for key in keys %}
        and target_row.{{ key }} = batch_row.{{ key }}
        {%- endfor %};
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }}
    where {{ date_column }} >= {{ bounds[0] }} and {{ date_column }} < {{ bounds[1] }};
    {%- endfor %}
{%- endmacro %}

{% materialization school_year_partitioned, adapter='postgres' -%}
    {%- set date_column = config.require('school_year_date') -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set temp_relation = make_temp_relation(target_relation) -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set backup_relation = make_backup_relation(target_relation, 'table') -%}
    {%- set unique_key = config.require('unique_key') -%}
    {%- set full_refresh_mode = (
        should_full_refresh() or existing_relation.is_view
        or (existing_relation is not none and not is_partitioned(existing_relation))
    ) -%}
    {%- set grant_config = config.get('grants') -%}
    {{ drop_relation_if_exists(load_cached_relation(intermediate_relation)) }}
    {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- set need_swap = false -%}
    {% if existing_relation is none %}
        {%- set build_sql = create_school_year_partitioned(target_relation, sql, date_column) -%}
        {%- set relation_for_indexes = target_relation -%}
    {% elif full_refresh_mode %}
        {%- set build_sql = create_school_year_partitioned(intermediate_relation, sql, date_column) -%}
        {%- set relation_for_indexes = intermediate_relation -%}
        {%- set need_swap = true -%}
    {% else %}
        {%- do run_query(get_create_table_as_sql(True, temp_relation, sql)) -%}
        {%- set dest_columns = adapter.get_columns_in_relation(existing_relation) -%}
        {%- set build_sql = school_year_delete_insert(
            target_relation, temp_relation, unique_key, dest_columns, date_column
        ) -%}
    {% endif %}

    {% call statement('main') %}
        {{ build_sql }}
    {% endcall %}

    {% if existing_relation is none or full_refresh_mode %}
        {% do create_indexes(relation_for_indexes) %}
    {% endif %}

    {% if need_swap %}
        {% do adapter.rename_relation(target_relation, backup_relation) %}
        {% do adapter.rename_relation(intermediate_relation, target_relation) %}
        {% do run_query(name_school_year_partitions(backup_relation)) %}
        {% do run_query(name_school_year_partitions(target_relation)) %}
    {% endif %}

    {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke(existing_relation, full_refresh_mode)) %}
    {% do persist_docs(target_relation, model) %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do adapter.commit() %}
    {% if need_swap %}
        {% do adapter.drop_relation(backup_relation) %}
    {% endif %}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target_relation]}) }}
{%- endmaterialization %}

{#- dbt's is_incremental() (dbt-core 1.11), also true for a school_year_partitioned model whose
    table is partitioned: dbt's is true for materialized='incremental' only, so the model would
    compile its full-build query every night. -#}
{% macro is_incremental() %}
    {%- if not execute -%}
        {{ return(False) }}
    {%- endif -%}
    {%- set relation = adapter.get_relation(this.database, this.schema, this.table) -%}
    {%- set materialized = model.config.materialized -%}
    {{ return(
        relation is not none
        and relation.type == 'table'
        and materialized in ('incremental', 'school_year_partitioned')
        and not should_full_refresh()
        and (materialized == 'incremental' or is_partitioned(relation))
    ) }}
{% endmacro %}

{#- Whether `relation` is a partitioned table. A school_year_partitioned model whose table is
    still a plain one (built before it was partitioned) is rebuilt in full, once. -#}
{% macro is_partitioned(relation) %}
    {%- set found = run_query(
        "select count(*) from pg_partitioned_table where partrelid = to_regclass('"
        ~ relation ~ "')"
    ) -%}
    {{ return(found.columns[0].values()[0] > 0) }}
{% endmacro %}
