-- The intraday path (schoolcx.intraday): who holds the warehouse's pipeline now, and every
-- intraday cycle with its outcome.
--
-- A lease, not only an advisory lock: the nightly run spans many Airflow tasks (processes),
-- and a PostgreSQL advisory lock lives only as long as the session that took it. The nightly's
-- first task takes the lease (under the advisory lock) and its last task ends it; an intraday
-- cycle that finds an unexpired nightly lease skips. The expiry (the nightly's run timeout)
-- frees a lease whose run died without ending it.
create table if not exists ops.pipeline_leases (
    holder text primary key check (holder in ('nightly')),
    run_id text not null,
    acquired_at timestamptz not null default now(),
    expires_at timestamptz not null
);

create table if not exists ops.intraday_cycles (
    cycle_id bigserial primary key,
    run_id text not null,
    cycle_at timestamptz not null,
    status text not null check (status in ('published', 'skipped', 'blocked', 'failed')),
    reason text,
    row_count integer,
    checksum text,
    seconds numeric,
    recorded_at timestamptz not null default now()
);

create index if not exists intraday_cycles_published_idx
on ops.intraday_cycles (cycle_at) where status = 'published';
