-- A file-drop row is keyed on its own id within the source (issue 14, defect 8): a row that an
-- overlapping "last 7 days" export delivers again is the same row. Rows landed before were
-- keyed '<file>:<id>', so without this a re-delivered row would exist under both keys and be
-- counted twice. Rekey them; where two files landed the same row at the same version (same
-- modification time), one copy is kept (they are the same version of the same row). Rows
-- without an id column keep '<file>:<row number>' (nothing else identifies them).
with old_keys as (
    select
        source_instance,
        source_id,
        updated_at,
        payload -> 'row' ->> 'id' as own_id,
        row_number() over (
            partition by source_instance, payload -> 'row' ->> 'id', updated_at
            order by source_id
        ) as copy_number
    from raw.file_drop_rows
    where
        payload -> 'row' ? 'id'
        and source_id = (payload ->> 'file') || ':' || (payload -> 'row' ->> 'id')
),

doubled as (
    select old_keys.source_instance, old_keys.source_id, old_keys.updated_at
    from old_keys
    where
        old_keys.copy_number > 1
        or exists (
            select 1
            from raw.file_drop_rows as rekeyed
            where
                rekeyed.source_instance = old_keys.source_instance
                and rekeyed.source_id = old_keys.own_id
                and rekeyed.updated_at = old_keys.updated_at
        )
)

delete from raw.file_drop_rows as r
using doubled
where
    r.source_instance = doubled.source_instance
    and r.source_id = doubled.source_id
    and r.updated_at = doubled.updated_at;

update raw.file_drop_rows
set source_id = payload -> 'row' ->> 'id'
where
    payload -> 'row' ? 'id'
    and source_id = (payload ->> 'file') || ':' || (payload -> 'row' ->> 'id');
