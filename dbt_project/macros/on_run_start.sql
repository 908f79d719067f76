{#- Null-safe casts for text that comes from files and vendors: a bad value becomes NULL (and the
    row is then rejected with a reason downstream) instead of failing the whole build. Created by
    on-run-start in the staging schema, before any model runs. -#}
{% macro create_safe_cast_functions() %}
create schema if not exists {{ generate_schema_name('stg', none) }};

create or replace function {{ generate_schema_name('stg', none) }}.try_timestamptz(value text)
returns timestamptz language plpgsql immutable as $fn$
begin
    return nullif(trim(value), '')::timestamptz;
exception when others then
    return null;
end;
$fn$;

create or replace function {{ generate_schema_name('stg', none) }}.try_timestamp(value text)
returns timestamp language plpgsql immutable as $fn$
begin
    return nullif(trim(value), '')::timestamp;
exception when others then
    return null;
end;
$fn$;

create or replace function {{ generate_schema_name('stg', none) }}.try_numeric(value text)
returns numeric language plpgsql immutable as $fn$
begin
    return nullif(trim(value), '')::numeric;
exception when others then
    return null;
end;
$fn$;
{% endmacro %}
