-- Consortium pooling: every extract a hub imported or refused, every return a district
-- received or refused, and every roster district that sent nothing for the latest period.
-- A refused file's row names the check that failed and why; nothing of it reached pool.* or
-- marts. The accepted rows are also what orders a district's extracts (an older one never
-- replaces a newer) and what makes a second import of the same extract change nothing.
create table if not exists ops.pool_imports (
    import_id bigserial primary key,
    run_id text not null,
    direction text not null check (direction in ('hub_import', 'district_receive')),
    status text not null check (status in ('accepted', 'rejected', 'missing')),
    -- the extract's folder (fsspec URL); NULL for a roster district that sent nothing
    file_url text,
    consortium_id text,
    district_id text,
    extract_id text,
    as_of date,
    extract_created_at timestamptz,
    manifest_sha256 text,
    failed_check text,
    reason text,
    row_counts jsonb not null default '{}'::jsonb,
    recorded_at timestamptz not null default now(),
    check ((status = 'rejected') = (failed_check is not null))
);

create index if not exists pool_imports_accepted_idx
on ops.pool_imports (direction, district_id, consortium_id) where status = 'accepted';
