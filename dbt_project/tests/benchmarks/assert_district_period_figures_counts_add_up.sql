-- The counts a district exports must hold together (a hub's import rejects an extract whose
-- counts do not add up; this catches it at the source): no part exceeds its whole, and every
-- share is its numerator over its denominator.
select
    figures.district_id,
    figures.period_type,
    figures.period_start
from {{ ref('district_period_figures') }} as figures
where
    figures.high_risk_interactions > figures.interactions
    or figures.answered_interactions > figures.interactions
    or figures.sla_evaluated_interactions > figures.interactions
    or figures.sla_met_interactions > figures.sla_evaluated_interactions
    or figures.rating_count > figures.interactions
    or figures.positive_ratings > figures.rating_count
    or figures.high_risk_share
    is distinct from trim_scale(
        figures.high_risk_interactions::numeric / nullif(figures.interactions, 0)
    )
    or figures.answered_share
    is distinct from trim_scale(
        figures.answered_interactions::numeric / nullif(figures.interactions, 0)
    )
    or figures.sla_met_share
    is distinct from trim_scale(
        figures.sla_met_interactions::numeric / nullif(figures.sla_evaluated_interactions, 0)
    )
    or figures.positive_share
    is distinct from trim_scale(
        figures.positive_ratings::numeric / nullif(figures.rating_count, 0)
    )
