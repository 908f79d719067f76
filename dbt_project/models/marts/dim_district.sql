-- One row per district: identity, calendar basics, current enrollment and its band.
-- In a district's deployment (var benchmark_input 'local', default) from the config (ref.*);
-- at a consortium hub ('pooled') from what districts sent: pool.districts for identity and
-- memberships, the enrollment of each district's latest pooled school year (the band of
-- which is the district's current band). A hub knows no service calendar: service_day_minutes
-- is NULL there.
{% if benchmark_input() == 'pooled' -%}

with

districts as (
    select
        districts.district_id,
        districts.name,
        districts.state,
        districts.timezone,
        districts.consortium_ids
    from {{ source('pool', 'districts') }} as districts
),

school_years as (
    select
        figures.district_id,
        figures.period_start,
        figures.enrollment
    from {{ source('pool', 'district_period_figures') }} as figures
    where figures.period_type = 'school_year' and figures.enrollment is not null
),

current_enrollment as (
    -- A district without a school year of known enrollment has no band, so no row here (its
    -- benchmark rows are suppressed as having no peer group, like a district missing locally).
    select distinct on (school_years.district_id)
        school_years.district_id,
        school_years.enrollment
    from school_years
    order by school_years.district_id asc, school_years.period_start desc
),

final as (
    select
        districts.district_id::text as district_id,
        districts.name::text as name,
        districts.state::text as state,
        districts.timezone::text as timezone,
        current_enrollment.enrollment::integer as enrollment,
        {{ enrollment_band('current_enrollment.enrollment') }}::text as enrollment_band,
        districts.consortium_ids::text[] as consortium_ids,
        null::numeric as service_day_minutes
    from districts
    inner join current_enrollment
        on districts.district_id = current_enrollment.district_id
)

select * from final

{%- else -%}

with

districts as (
    select * from {{ ref('stg_ref__districts') }}
),

members as (
    select * from {{ ref('stg_ref__consortium_members') }}
),

enrollment as (
    select * from {{ ref('stg_ref__district_enrollment') }}
),

as_of as (
    select * from {{ ref('int_as_of') }}
),

current_enrollment as (
    select
        districts.district_id,
        (
            select enrollment.enrollment
            from enrollment
            where enrollment.district_id = districts.district_id
            order by
                enrollment.school_year <= {{ school_year('as_of.as_of_date') }} desc,
                abs(enrollment.school_year - {{ school_year('as_of.as_of_date') }}) asc
            limit 1
        ) as enrollment
    from districts
    cross join as_of
),

consortia as (
    select
        members.district_id,
        array_agg(members.consortium_id order by members.consortium_id) as consortium_ids
    from members
    group by members.district_id
),

final as (
    select
        districts.district_id::text as district_id,
        districts.district_name::text as name,
        districts.state::text as state,
        districts.timezone::text as timezone,
        current_enrollment.enrollment::integer as enrollment,
        {{ enrollment_band('current_enrollment.enrollment') }}::text as enrollment_band,
        coalesce(consortia.consortium_ids, '{}'::text[])::text[] as consortium_ids,
        districts.service_day_minutes::numeric as service_day_minutes
    from districts
    inner join current_enrollment
        on districts.district_id = current_enrollment.district_id
    left join consortia
        on districts.district_id = consortia.district_id
)

select * from final

{%- endif %}
