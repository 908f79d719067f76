-- Quarantine counts a bad record once; publishing never moves the marts backwards.

-- 1. quarantine.records gets a natural key: the same bad record re-read by a later night (a
-- ratings lookback, a resumed file) is the same row, not a new one. A record is identified by
-- its id, or by a hash of its raw text when it has none (an unparseable line has no id).
alter table quarantine.records
    add column if not exists record_identity text generated always as (
        -- md5: immutable (a generated column needs it) and only an identity, not a secret; a
        -- very long id is hashed too, so the key always fits a btree index entry
        case
            when record_id is null then 'md5:' || md5(coalesce(raw_text, ''))
            when length(record_id) > 200 then 'md5id:' || md5(record_id)
            else record_id
        end
    ) stored;

-- Keep the first quarantine of each record (its batch says when it was first seen); later
-- copies are the repeats this key now prevents.
-- (One sort over the table, not a self-join: quarantine can be large.)
delete from quarantine.records
where quarantine_id in (
    select numbered.quarantine_id
    from (
        select
            quarantine_id,
            row_number() over (
                partition by source_instance, stream, record_identity, reason, field
                order by quarantine_id
            ) as copy_number
        from quarantine.records
    ) as numbered
    where numbered.copy_number > 1
);

-- nulls not distinct: a record-level reason has no field, and two such rows are one record.
alter table quarantine.records
    add constraint records_natural_key unique nulls not distinct
    (source_instance, stream, record_identity, reason, field);

-- 2. The as-of date a publish was made for, so an older night (a backfill, a rerun) can see
-- that newer marts are published and leave them. Rows logged before this column existed
-- reported as of the UTC date of their interval start (the old rule).
alter table ops.publish_log add column if not exists as_of_date date;
update ops.publish_log
set as_of_date = (data_interval_start at time zone 'UTC')::date
where as_of_date is null and data_interval_start is not null;
create index if not exists publish_log_published_as_of_idx
on ops.publish_log (as_of_date) where published;

-- 3. `schoolcx source reset NAME --from DATE`: the next extract of that source starts from
-- DATE instead of its configured start_date (its saved state is cleared in the same
-- transaction); the row is removed once an extract of the source succeeds.
create table if not exists ops.source_resets (
    source_instance text primary key,
    from_date date,
    reset_at timestamptz not null default now()
);
