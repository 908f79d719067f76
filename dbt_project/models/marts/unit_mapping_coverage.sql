-- How much of each source's volume the config maps to a unit, per district, source, school year
-- and unit type (docs/metrics.md "Who, where and how"): interactions, those without the unit,
-- and their share. Unmapped values are counted, never dropped, so a data engineer sees that
-- 12 % of a helpdesk's tickets have no school before a principal reads a school's figures.
-- "Without the unit": school NULL (central office or no mapping matched: the facts cannot
-- tell the two apart), department NULL, stakeholder type 'unknown', channel 'other' (a vendor
-- value outside the list and unmapped, or an API ticket), language 'unknown'.
with

interactions as (
    select * from {{ ref('fct_interactions') }}
),

per_source as (
    select
        interactions.district_id,
        interactions.source_instance,
        interactions.source_system,
        interactions.school_year,
        count(*) as interactions,
        count(*) filter (where interactions.school_id is null) as without_school,
        count(*) filter (where interactions.department is null) as without_department,
        count(*) filter (where interactions.stakeholder_type = 'unknown') as without_stakeholder,
        count(*) filter (where interactions.channel = 'other') as without_channel,
        count(*) filter (where interactions.language = 'unknown') as without_language
    from interactions
    group by
        interactions.district_id,
        interactions.source_instance,
        interactions.source_system,
        interactions.school_year
),

unpivoted as (
    select
        per_source.district_id,
        per_source.source_instance,
        per_source.source_system,
        per_source.school_year,
        unit.unit_type,
        per_source.interactions,
        unit.unmapped
    from per_source
    cross join lateral (
        values
        ('school', per_source.without_school),
        ('department', per_source.without_department),
        ('stakeholder_type', per_source.without_stakeholder),
        ('channel', per_source.without_channel),
        ('language', per_source.without_language)
    ) as unit (unit_type, unmapped)
),

final as (
    select
        unpivoted.district_id::text as district_id,
        unpivoted.source_instance::text as source_instance,
        unpivoted.source_system::text as source_system,
        unpivoted.school_year::integer as school_year,
        unpivoted.unit_type::text as unit_type,
        unpivoted.interactions::integer as interactions,
        unpivoted.unmapped::integer as unmapped_interactions,
        round(unpivoted.unmapped::numeric / unpivoted.interactions, 4)::numeric as unmapped_share
    from unpivoted
)

select * from final
