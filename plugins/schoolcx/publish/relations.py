"""The published relations: which marts exist, their keys, and which carry a district.

The one list both the gate (what to validate in `build`) and publishing (what to copy into
`marts`) read, so a mart added to dbt is validated and published or neither.
"""

from __future__ import annotations

BUILD_SCHEMA = "build"
MARTS_SCHEMA = "marts"

# mart -> the columns that identify one row (the grain the gate checks for uniqueness)
MART_KEYS: dict[str, tuple[str, ...]] = {
    "dim_district": ("district_id",),
    "fct_interactions": ("interaction_key",),
    "fct_ratings": ("interaction_key",),
    "fct_daily_volume": ("district_id", "local_date"),
    "fct_survey_item_results": ("district_id", "school_year", "item_code"),
    "district_scorecard": ("district_id", "period_type", "period_start"),
    "peer_benchmarks": ("district_id", "metric", "period_type", "period_start"),
    "yoy_trends": ("district_id", "metric", "school_year"),
}
MARTS: tuple[str, ...] = tuple(MART_KEYS)
