-- Schemas and the project's own bookkeeping tables.
-- raw: landing (vendor records as they came); quarantine: records that broke the contract;
-- ref: reference data synced from the deployment config; ops: run log, extract state, gate and
-- publish results; build: where dbt writes marts before the gate; marts: published.
create schema if not exists raw;
create schema if not exists quarantine;
create schema if not exists ref;
create schema if not exists ops;
create schema if not exists build;
create schema if not exists marts;

create table if not exists ops.extract_state (
    source_instance text not null,
    stream text not null,
    state jsonb not null,
    updated_at timestamptz not null default now(),
    primary key (source_instance, stream)
);

create table if not exists ops.extract_runs (
    run_id text not null,
    batch_id text primary key,
    source_instance text not null,
    source_type text not null,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    status text not null default 'running' check (status in ('running', 'success', 'failed')),
    records_loaded bigint not null default 0,
    records_quarantined bigint not null default 0,
    pages bigint not null default 0,
    error text
);

create table if not exists quarantine.records (
    quarantine_id bigserial primary key,
    source_instance text not null,
    stream text not null,
    batch_id text,
    source_position text,
    record_id text,
    field text,
    reason text not null,
    raw_text text,
    quarantined_at timestamptz not null default now()
);
create index if not exists records_source_idx on quarantine.records (source_instance, stream);

create table if not exists ops.gate_results (
    run_id text not null,
    suite text not null,
    expectation text not null,
    severity text not null check (severity in ('critical', 'warning')),
    relation text,
    observed_value text,
    passed boolean not null,
    checked_at timestamptz not null default now()
);
create index if not exists gate_results_run_idx on ops.gate_results (run_id);

create table if not exists ops.publish_log (
    run_id text not null,
    data_interval_start timestamptz,
    data_interval_end timestamptz,
    published boolean not null,
    gate_passed boolean not null,
    row_counts jsonb not null default '{}'::jsonb,
    checksum text,
    detail text,
    logged_at timestamptz not null default now()
);

-- One raw table per source entity, all of the same landing shape. The primary key makes a
-- rerun or an overlapping window idempotent: a record version already landed is skipped.
create or replace function ops.create_raw_table(table_name text) returns void
language plpgsql as $$
begin
    execute format($ddl$
        create table if not exists raw.%I (
            source_system text not null,
            source_instance text not null,
            district_id text not null,
            source_id text not null,
            updated_at timestamptz not null,
            person_hash text,
            payload jsonb not null,
            _loaded_at timestamptz not null default now(),
            _batch_id text not null,
            _source_position text,
            primary key (source_instance, source_id, updated_at)
        )$ddl$, table_name);
    execute format('create index if not exists %I on raw.%I (_loaded_at)',
                   table_name || '_loaded_at_idx', table_name);
end;
$$;
