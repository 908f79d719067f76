-- Access for BI tools.
--
-- schoolcx_bi: reads every row of every published mart, nothing else.
-- schoolcx_bi_district: the base of the per-district / per-consortium reader roles that
--   schoolcx.publish.roles.sync_bi_roles creates from config `bi_readers`. Row-level security
--   (policies applied by publish on each mart) limits its members to the districts mapped to
--   their reader role in ops.bi_reader_districts.
-- The two are separate on purpose: a policy `TO role` applies to every member of the role, so
-- a district reader must never be a member of schoolcx_bi, whose policy shows all rows.
-- Roles are cluster-wide (other databases on the server may have created them already); the
-- exception handler covers two databases migrating at the same moment.
do $$
declare
    r text;
begin
    foreach r in array array['schoolcx_bi', 'schoolcx_bi_district'] loop
        if not exists (select from pg_roles where rolname = r) then
            begin
                execute format('create role %I nologin', r);
            exception when duplicate_object or unique_violation then
                null;
            end;
        end if;
    end loop;
end
$$;

-- reader role -> district ids (replaced by sync_bi_roles from config bi_readers)
create table if not exists ops.bi_reader_districts (
    role_name text not null,
    district_id text not null,
    primary key (role_name, district_id)
);
revoke all on ops.bi_reader_districts from public;

-- The districts whose rows `reader` may see: those mapped to any reader role it has the
-- privileges of. SECURITY DEFINER so that readers need no privilege on ops at all; the district
-- policy calls it with current_user. Readers have no USAGE on ops, so they cannot call it with
-- another role's name themselves. Roles named in the table but since dropped simply match
-- nothing (joined through pg_roles, so pg_has_role never sees an unknown name).
create or replace function ops.bi_visible_districts(reader name) returns setof text
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
    select m.district_id
    from ops.bi_reader_districts m
    join pg_catalog.pg_roles r on r.rolname = m.role_name
    where pg_catalog.pg_has_role(reader, r.oid, 'USAGE')
$$;
revoke all on function ops.bi_visible_districts(name) from public;
grant execute on function ops.bi_visible_districts(name) to schoolcx_bi_district;

-- Published marts only. Table grants, RLS and policies are (re)applied by publish on every
-- relation it creates, in the publishing transaction.
grant usage on schema marts to schoolcx_bi, schoolcx_bi_district;

-- Nothing for anyone by default in the pipeline's own schemas (PUBLIC gets no USAGE there;
-- this makes it explicit, and covers stg/int when dbt has created them already).
do $$
declare
    s text;
begin
    foreach s in array array['raw', 'quarantine', 'ref', 'ops', 'build', 'stg', 'int'] loop
        if exists (select from pg_namespace where nspname = s) then
            execute format('revoke all on schema %I from public', s);
        end if;
    end loop;
end
$$;
