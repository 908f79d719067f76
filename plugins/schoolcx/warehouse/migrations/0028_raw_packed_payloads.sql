-- Packed raw payloads (issue 19; schoolcx.load.packing). A raw row of a table with a shape keeps
-- in `payload` only the projection staging reads, and the whole vendor record in payload_z: its
-- JSON text zlib-compressed with the table's preset dictionary (payload_dict). PostgreSQL
-- compresses no tuple under ~2 kB, so raw held every record's jsonb uncompressed; a dictionary
-- made from a table's own records brings a 1.3 kB ticket to ~180 B.
-- payload_z null: payload is the whole record (rows landed before this migration; tables
-- without a shape).
-- payload_dict holds a raw.payload_dicts.dict_id but is not a declared foreign key: its check
-- (a key-share lock on the dictionary's row for every row inserted) cost the raw writer 15-20%
-- of its rows/s, and concurrent writers of one table would all lock the same row. Nothing
-- deletes or changes a dictionary (schoolcx.load.packing).

-- One dictionary per raw table, made once from the first records the writer saw for it and
-- never changed (every row packed with it needs it). zdict holds those records' text: it is
-- person data like raw itself, in the same schema under the same grants.
-- shape_fingerprint: the shape (payload_shapes) the table's payloads were projected with; a
-- repack rewrites them from payload_z when the code's shape differs, then records the new one.
create table if not exists raw.payload_dicts (
    dict_id integer generated always as identity primary key,
    raw_table text not null unique,
    shape_fingerprint text not null,
    zdict bytea not null,
    created_at timestamptz not null default now()
);

-- The landing shape (migration 0001) with the two packed columns, after the others as on the
-- tables altered below.
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
            payload_z bytea,
            payload_dict integer,
            primary key (source_instance, source_id, updated_at)
        )$ddl$, table_name);
    execute format('create index if not exists %I on raw.%I (_loaded_at)',
                   table_name || '_loaded_at_idx', table_name);
end;
$$;

-- Every existing landing table (those of ops.create_raw_table: payload and _batch_id). New
-- nullable columns without a default rewrite nothing and scan nothing.
do $$
declare
    t text;
begin
    for t in
        select c.table_name
        from information_schema.columns as c
        where c.table_schema = 'raw' and c.column_name = '_batch_id'
          and exists (
              select 1 from information_schema.columns as p
              where p.table_schema = 'raw' and p.table_name = c.table_name
                and p.column_name = 'payload'
          )
        order by c.table_name
    loop
        execute format('alter table raw.%I add column if not exists payload_z bytea', t);
        execute format('alter table raw.%I add column if not exists payload_dict integer', t);
    end loop;
end;
$$;
