"""The files of an extract and of a return, and the columns of each, in one place.

Column kinds: text, date, int, numeric (exact decimal, see files.py), text[]. The district
files are the pool.* tables' columns minus extract_id (migrations 0013 and 0022); the return
files are the hub's published peer_benchmarks and yoy_trends (a district's own rows only).
"""

from __future__ import annotations

FIGURES_FILE = "district_period_figures.parquet"
SURVEY_FILE = "survey_item_results.parquet"
DISTRICT_FILE = "district.parquet"
PEER_FILE = "peer_benchmarks.parquet"
YOY_FILE = "yoy_trends.parquet"

PERIOD_TYPES = ("school_year", "month", "week", "school_year_to_date", "prior_school_year_to_date")

FIGURES_COLUMNS: tuple[tuple[str, str], ...] = (
    ("district_id", "text"),
    ("period_type", "text"),
    ("period_start", "date"),
    ("period_end", "date"),
    ("enrollment", "int"),
    ("service_days", "int"),
    ("interactions", "int"),
    ("high_risk_interactions", "int"),
    ("answered_interactions", "int"),
    ("sla_evaluated_interactions", "int"),
    ("sla_met_interactions", "int"),
    ("rating_count", "int"),
    ("positive_ratings", "int"),
    ("interactions_per_1000_students_per_service_day", "numeric"),
    ("high_risk_share", "numeric"),
    ("answered_share", "numeric"),
    ("median_first_response_business_minutes", "numeric"),
    ("p90_first_response_business_minutes", "numeric"),
    ("sla_met_share", "numeric"),
    ("feedback_score", "numeric"),
    ("positive_share", "numeric"),
    # service health (issue 18, migration 0022)
    ("after_hours_interactions", "int"),
    ("ever_solved_tickets", "int"),
    ("reopened_tickets", "int"),
    ("solved_tickets", "int"),
    ("one_touch_tickets", "int"),
    ("backlog_end", "int"),
    ("past_due_end", "int"),
    ("after_hours_share", "numeric"),
    ("reopen_rate", "numeric"),
    ("one_touch_share", "numeric"),
)
SURVEY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("district_id", "text"),
    ("school_year", "int"),
    ("item_code", "text"),
    ("valid_answers", "int"),
    ("agree_answers", "int"),
    ("percent_agree", "numeric"),
)
DISTRICT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("district_id", "text"),
    ("name", "text"),
    ("state", "text"),
    ("timezone", "text"),
    ("consortium_ids", "text[]"),
)
PEER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("district_id", "text"),
    ("metric", "text"),
    ("period_type", "text"),
    ("period_start", "date"),
    ("peer_group", "text"),
    ("peer_group_key", "text"),
    ("n_districts", "int"),
    ("district_value", "numeric"),
    ("peer_p25", "numeric"),
    ("peer_median", "numeric"),
    ("peer_p75", "numeric"),
    ("percentile_rank", "numeric"),
    ("delta_from_median", "numeric"),
    ("suppression_reason", "text"),
)
YOY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("district_id", "text"),
    ("metric", "text"),
    ("school_year", "int"),
    ("span_start", "date"),
    ("span_end", "date"),
    ("current_value", "numeric"),
    ("prior_value", "numeric"),
    ("change", "numeric"),
    ("pct_change", "numeric"),
    ("direction", "text"),
)

EXTRACT_FILES = {
    FIGURES_FILE: FIGURES_COLUMNS,
    SURVEY_FILE: SURVEY_COLUMNS,
    DISTRICT_FILE: DISTRICT_COLUMNS,
}
RETURN_FILES = {PEER_FILE: PEER_COLUMNS, YOY_FILE: YOY_COLUMNS}


def names(columns: tuple[tuple[str, str], ...]) -> list[str]:
    return [c for c, _ in columns]
