-- An interaction's school and department are its own district's (docs/metrics.md "Who, where
-- and how"): a school of dim_school in the same district, a department of that district's list.
-- The config refuses mappings to other units; this catches a mapping that drifted from the
-- config (a stale ref table, a hand edit) before a principal reads another district's contacts.
select
    interactions.interaction_key,
    interactions.district_id,
    interactions.school_id,
    interactions.department
from {{ ref('fct_interactions') }} as interactions
left join {{ ref('dim_school') }} as schools
    on interactions.school_id = schools.school_id
left join {{ ref('dim_department') }} as departments
    on
        interactions.district_id = departments.district_id
        and interactions.department = departments.department
where
    (
        interactions.school_id is not null
        and schools.district_id is distinct from interactions.district_id
    )
    or (interactions.department is not null and departments.department is null)
