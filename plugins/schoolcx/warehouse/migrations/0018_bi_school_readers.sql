-- School readers (issue 17): a principal's role sees its own school's rows of the unit marts
-- (schoolcx.marts.SCHOOL_READER_MARTS) and nothing else.
--
-- schoolcx_bi_school: the base of the per-school reader roles that
--   schoolcx.publish.roles.sync_bi_roles creates from config `bi_school_readers`. It is granted
--   SELECT on the unit marts only, and their row-level security policy for it shows the rows
--   with unit_type 'school' and a unit_key mapped to the reader's role in
--   ops.bi_reader_schools. A school reader is never a member of schoolcx_bi or of
--   schoolcx_bi_district: PostgreSQL ORs permissive policies, so either would show it more.
-- School enrollment needs nothing here: ref.school_enrollment (0003) already carries it.
do $$
begin
    if not exists (select from pg_roles where rolname = 'schoolcx_bi_school') then
        begin
            create role schoolcx_bi_school nologin;
        exception when duplicate_object or unique_violation then
            null;
        end;
    end if;
end
$$;

-- reader role -> school ids (replaced by sync_bi_roles from config bi_school_readers)
create table if not exists ops.bi_reader_schools (
    role_name text not null,
    school_id text not null,
    primary key (role_name, school_id)
);
revoke all on ops.bi_reader_schools from public;

-- The schools whose rows `reader` may see, as ops.bi_visible_districts (0004) for districts:
-- SECURITY DEFINER so readers need no privilege on ops; the policy calls it with current_user.
create or replace function ops.bi_visible_schools(reader name) returns setof text
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
    select m.school_id
    from ops.bi_reader_schools m
    join pg_catalog.pg_roles r on r.rolname = m.role_name
    where pg_catalog.pg_has_role(reader, r.oid, 'USAGE')
$$;
revoke all on function ops.bi_visible_schools(name) from public;
grant execute on function ops.bi_visible_schools(name) to schoolcx_bi_school;

grant usage on schema marts to schoolcx_bi_school;
