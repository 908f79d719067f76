-- Which reference data each successful dbt build was computed from. The incremental facts only
-- recompute recently loaded rows, so after a config change synced into ref.* (a closure, service
-- hours, SLA targets, enrollment, ...) their older rows would keep the old calendar and targets.
-- prepare fingerprints ref.* after the sync and compares it with the latest row here: when they
-- differ, that night's dbt build runs with --full-refresh. A row is written only once the build
-- has succeeded, so a failed night retries the full refresh the next night.
create table if not exists ops.ref_fingerprints (
    fingerprint_id bigserial primary key,
    run_id text not null,
    fingerprint text not null,                -- md5 over the per-table fingerprints
    table_fingerprints jsonb not null,        -- ref table -> md5 of its rows, in a fixed order
    full_refresh boolean not null,            -- whether this build was a full refresh
    reason text not null,                     -- why (or why not)
    recorded_at timestamptz not null default now()
);
create index if not exists ref_fingerprints_recorded_at_idx
    on ops.ref_fingerprints (recorded_at desc, fingerprint_id desc);
