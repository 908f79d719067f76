-- School years archived out of the partitioned facts (`schoolcx warehouse archive-year`,
-- schoolcx.publish.archive): one row per table and year, with where its rows went. Publishing
-- reads it: a year archived from marts.<table> is not published again when a later full
-- refresh of build recomputes it from raw (archiving is explicit; so is undoing it: delete the
-- row and republish).
create table if not exists ops.archived_school_years (
    table_name text not null,
    school_year integer not null,
    archived_at timestamptz not null default now(),
    archived_to text not null,
    row_count bigint not null,
    primary key (table_name, school_year)
);
