-- Drill-down below the district (docs/metrics.md "Who, where and how").
-- ref.departments: each district's own department keys from the deployment config, so
-- dim_department lists a department that no interaction has reached yet (a unit with zero
-- contacts is a finding, not a missing row).
create table if not exists ref.departments (
    district_id text not null,
    department text not null,
    primary key (district_id, department)
);

-- A source may map one unit type from several fields (a brand for most tickets, a custom field
-- for the rest); the config lists them in order and the first that matches decides. 0 = first.
alter table ref.unit_mappings add column if not exists precedence int not null default 0;
