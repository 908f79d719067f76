"""The published marts and their keys: one list for everything that names them.

The gate validates these in `build`, publishing copies them into `marts`, the DAG announces
them as assets, and config check knows the gate checks built from them. It sits in the lowest
layer (no imports) so each of those can read it, so a mart added to dbt is validated,
published and checkable, or none of these.
"""

from __future__ import annotations

# mart -> the columns that identify one row (the grain the gate checks for uniqueness)
MART_KEYS: dict[str, tuple[str, ...]] = {
    "dim_district": ("district_id",),
    # below the district (docs/metrics.md "Who, where and how")
    "dim_school": ("school_id",),
    "dim_department": ("district_id", "department"),
    "unit_mapping_coverage": ("district_id", "source_instance", "school_year", "unit_type"),
    "fct_interactions": ("interaction_key",),
    "fct_ratings": ("interaction_key",),
    "fct_daily_volume": ("district_id", "local_date"),
    "fct_survey_item_results": ("district_id", "school_year", "item_code"),
    "district_scorecard": ("district_id", "period_type", "period_start"),
    # what a district exports to its consortium hub (schoolcx.pooling)
    "district_period_figures": ("district_id", "period_type", "period_start"),
    "peer_benchmarks": ("district_id", "metric", "period_type", "period_start"),
    "yoy_trends": ("district_id", "metric", "school_year"),
    # our first-response business minutes against the helpdesk's own figure, with the reason
    "vendor_reconciliation": ("district_id", "source_instance", "period_type", "period_start"),
    # service health (docs/metrics.md "Service health")
    "fct_backlog_daily": ("district_id", "local_date"),
    "rating_drivers": ("district_id", "school_year", "response_bucket"),
    # below the district (issue 17): never pooled, never sent to a hub
    "unit_scorecard": ("district_id", "unit_type", "unit_key", "period_type", "period_start"),
    "unit_rankings": (
        "district_id",
        "unit_type",
        "unit_key",
        "metric",
        "period_type",
        "period_start",
    ),
    "unit_equity_gaps": (
        "district_id",
        "unit_type",
        "unit_key",
        "metric",
        "period_type",
        "period_start",
    ),
}
MARTS: tuple[str, ...] = tuple(MART_KEYS)
# What a consortium hub builds from the pooled aggregates, gates and publishes
# (schoolcx.pooling.hub_build): the benchmark marts and the districts they name.
HUB_MARTS: tuple[str, ...] = ("dim_district", "peer_benchmarks", "yoy_trends")
assert set(HUB_MARTS) <= set(MART_KEYS)
# The marts a school reader (config bi_school_readers) reads, its own school's rows only
# (schoolcx.publish.roles): one row per unit, unit_type 'school' and unit_key its school id.
SCHOOL_READER_MARTS: tuple[str, ...] = ("unit_scorecard", "unit_rankings")
assert set(SCHOOL_READER_MARTS) <= set(MART_KEYS)
