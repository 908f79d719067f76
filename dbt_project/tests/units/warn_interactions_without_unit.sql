{{ config(severity='warn', fail_calc='coalesce(sum(unmapped_interactions), 0)') }}
-- Every build reports, as a warning, how many interactions of the current school year have no
-- school, department or stakeholder type, or an `other` channel (docs/metrics.md: unmapped
-- values are counted, never silently dropped). `select * from build.unit_mapping_coverage`
-- says which source and how large a share. A warning, not an error: a central-office ticket
-- rightly has no school, and a source's mapping is a config task, not a broken build.
select
    coverage.district_id,
    coverage.source_instance,
    coverage.unit_type,
    coverage.interactions,
    coverage.unmapped_interactions,
    coverage.unmapped_share
from {{ ref('unit_mapping_coverage') }} as coverage
where
    coverage.unit_type in ('school', 'department', 'stakeholder_type', 'channel')
    and coverage.unmapped_interactions > 0
    and coverage.school_year = (
        select max(latest.school_year) from {{ ref('unit_mapping_coverage') }} as latest
    )
