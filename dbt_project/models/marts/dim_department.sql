-- One row per department of each district's own list in the deployment config (docs/metrics.md
-- "Who, where and how"): the key fct_interactions.department carries, and a label for a report.
-- A department no interaction has reached yet is listed too (zero contacts is a finding).
with

departments as (
    select * from {{ ref('stg_ref__departments') }}
),

final as (
    select
        departments.district_id::text as district_id,
        departments.department::text as department,
        -- human_resources -> Human resources
        (
            upper(left(replace(departments.department, '_', ' '), 1))
            || substr(replace(departments.department, '_', ' '), 2)
        )::text as label
    from departments
)

select * from final
