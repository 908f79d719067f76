-- Figures reconcile (docs/metrics.md "Below the district"): for every district, period and
-- unit type, the units of the type plus the unmapped remainder add up to the district's
-- interactions (district_interactions, joined from district_scorecard). Reads unit_scorecard
-- only, so building the district marts alone does not select it.
select
    unit_periods.district_id,
    unit_periods.unit_type,
    unit_periods.period_type,
    unit_periods.period_start,
    sum(unit_periods.interactions) as unit_interactions,
    min(unit_periods.district_interactions) as district_interactions
from {{ ref('unit_scorecard') }} as unit_periods
group by
    unit_periods.district_id,
    unit_periods.unit_type,
    unit_periods.period_type,
    unit_periods.period_start
having
    sum(unit_periods.interactions) != min(unit_periods.district_interactions)
    or min(unit_periods.district_interactions) != max(unit_periods.district_interactions)
