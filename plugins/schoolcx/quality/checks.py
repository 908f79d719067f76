"""The gate's checks, as code: what is expected of which built mart, and how bad a miss is.

Each check becomes one GX expectation in the suite of the mart it is attached to. Thresholds
come from the deployment config (GateConfig, Benchmarks), never from here; that is why the
suites are generated per run instead of committed as JSON. Checks that span relations (row
counts against the last publish, freshness of sources, trailing medians) are GX
UnexpectedRowsExpectations: their SQL returns the offending rows, so a pass is "no rows".

GX itself is imported only inside `to_expectation` (the import costs seconds).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from schoolcx.config import DeploymentConfig
from schoolcx.publish.relations import BUILD_SCHEMA, MART_KEYS, MARTS_SCHEMA

CRITICAL = "critical"
WARNING = "warning"

# Default severity per kind of check; GateConfig.severity overrides by kind or by check name.
# Only volume jumps default to warning: a real spike (a bus crisis, a closure missing from the
# calendar) looks like one, and a night should still publish while someone looks.
DEFAULT_SEVERITY: dict[str, str] = {
    "key_not_null": CRITICAL,
    "key_unique": CRITICAL,
    "not_empty": CRITICAL,
    "elapsed_non_negative": CRITICAL,
    "business_within_calendar": CRITICAL,
    "response_after_creation": CRITICAL,
    "rating_in_scale": CRITICAL,
    "percent_agree_in_range": CRITICAL,
    "volume_band": CRITICAL,
    "volume_jump": WARNING,
    "row_count_drop": CRITICAL,
    "district_row_count_drop": CRITICAL,
    "freshness": CRITICAL,
    "peer_k_min": CRITICAL,
    "peer_aggregates_k": CRITICAL,
}


@dataclass(frozen=True)
class Check:
    """One expectation on one built mart."""

    name: str  # unique and stable: shown in results, ops.gate_results and Data Docs
    kind: str  # family of the check (DEFAULT_SEVERITY key)
    mart: str  # the mart whose build table is the batch
    expectation: str  # GX expectation class name
    kwargs: dict[str, Any] = field(default_factory=dict)
    description: str | None = None  # rendered in Data Docs (SQL checks only)

    @property
    def relation(self) -> str:
        return f"{BUILD_SCHEMA}.{self.mart}"

    @property
    def sql(self) -> str | None:
        return self.kwargs.get("unexpected_rows_query")

    def severity(self, overrides: dict[str, str]) -> str:
        return overrides.get(self.name) or overrides.get(self.kind) or DEFAULT_SEVERITY[self.kind]

    def to_expectation(self, severity: str):
        import great_expectations.expectations as gxe

        cls = getattr(gxe, self.expectation)
        extra = {"description": self.description} if self.description else {}
        return cls(
            **self.kwargs, **extra, severity=severity, meta={"check": self.name, "kind": self.kind}
        )


def _sql(text: str) -> str:
    # GX formats the query with str.format ({batch}); no other braces may appear. GX aliases
    # {batch} itself ("AS subselect") unless the query has a JOIN, where the query must alias
    # it: queries without a join use bare column names.
    assert "{" not in text.replace("{batch}", ""), text
    return " ".join(text.split())


def _ts(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    return f"timestamptz '{value.astimezone(dt.UTC).isoformat()}'"


def key_checks(mart: str) -> list[Check]:
    keys = MART_KEYS[mart]
    out = [
        Check(
            f"{mart}.{col}.not_null",
            "key_not_null",
            mart,
            "ExpectColumnValuesToNotBeNull",
            {"column": col},
        )
        for col in keys
    ]
    if len(keys) == 1:
        out.append(
            Check(
                f"{mart}.{keys[0]}.unique",
                "key_unique",
                mart,
                "ExpectColumnValuesToBeUnique",
                {"column": keys[0]},
            )
        )
    else:
        out.append(
            Check(
                f"{mart}.key.unique",
                "key_unique",
                mart,
                "ExpectCompoundColumnsToBeUnique",
                {"column_list": list(keys)},
            )
        )
    return out


def interaction_checks(cfg: DeploymentConfig) -> list[Check]:
    m = "fct_interactions"
    out = [
        Check(
            f"{m}.{col}.non_negative",
            "elapsed_non_negative",
            m,
            "ExpectColumnValuesToBeBetween",
            {"column": col, "min_value": 0},
        )
        for col in (
            "first_response_business_minutes",
            "first_response_calendar_minutes",
            "resolution_business_minutes",
            "resolution_calendar_minutes",
        )
    ]
    tol = float(cfg.gate.business_minutes_tolerance)
    # SQL with a tolerance rather than a column-pair expectation: business and calendar
    # minutes are computed by different arithmetic, and a rounding difference must not block
    # a night.
    out.append(
        Check(
            f"{m}.business_minutes_within_calendar",
            "business_within_calendar",
            m,
            "UnexpectedRowsExpectation",
            {
                "unexpected_rows_query": _sql(f"""
            select interaction_key, first_response_business_minutes,
                   first_response_calendar_minutes, resolution_business_minutes,
                   resolution_calendar_minutes
            from {{batch}}
            where first_response_business_minutes > first_response_calendar_minutes + {tol}
               or resolution_business_minutes > resolution_calendar_minutes + {tol}""")
            },
            "Business minutes never exceed calendar minutes (first response and resolution).",
        )
    )
    for col in ("first_response_at", "resolved_at"):
        out.append(
            Check(
                f"{m}.{col}.not_before_created_at",
                "response_after_creation",
                m,
                "ExpectColumnPairValuesAToBeGreaterThanB",
                {
                    "column_A": col,
                    "column_B": "created_at",
                    "or_equal": True,
                    "ignore_row_if": "either_value_is_missing",
                },
            )
        )
    return out


def value_range_checks(cfg: DeploymentConfig) -> list[Check]:
    g = cfg.gate
    return [
        Check(
            "fct_ratings.rating_1_5.not_null",
            "rating_in_scale",
            "fct_ratings",
            "ExpectColumnValuesToNotBeNull",
            {"column": "rating_1_5"},
        ),
        Check(
            "fct_ratings.rating_1_5.within_1_5",
            "rating_in_scale",
            "fct_ratings",
            "ExpectColumnValuesToBeBetween",
            {"column": "rating_1_5", "min_value": 1, "max_value": 5},
        ),
        Check(
            "fct_survey_item_results.percent_agree.within_0_100",
            "percent_agree_in_range",
            "fct_survey_item_results",
            "ExpectColumnValuesToBeBetween",
            {"column": "percent_agree", "min_value": 0, "max_value": 100},
        ),
        Check(
            "fct_daily_volume.interactions_per_1000_students.plausible",
            "volume_band",
            "fct_daily_volume",
            "ExpectColumnValuesToBeBetween",
            {
                "column": "interactions_per_1000_students",
                "min_value": g.volume_per_1000_min,
                "max_value": g.volume_per_1000_max,
            },
        ),
        Check(
            "district_scorecard.interactions_per_1000_students_per_service_day.plausible",
            "volume_band",
            "district_scorecard",
            "ExpectColumnValuesToBeBetween",
            {
                "column": "interactions_per_1000_students_per_service_day",
                "min_value": g.volume_per_1000_min,
                "max_value": g.volume_per_1000_max,
            },
        ),
        Check(
            "dim_district.not_empty",
            "not_empty",
            "dim_district",
            "ExpectTableRowCountToBeBetween",
            {"min_value": 1},
        ),
    ]


def volume_jump_check(cfg: DeploymentConfig, as_of: dt.datetime) -> Check:
    g = cfg.gate
    factor = float(g.volume_jump_factor)
    # A district-day is compared with the median of its own preceding service days (a
    # percentile is not a window function in PostgreSQL, hence the range self-join); only
    # recent days are checked, the rest was validated when it was published.
    query = _sql(f"""
        select v.district_id, v.local_date, v.interactions, t.trailing_median,
               t.history_days
        from {{batch}} v
        join lateral (
            select percentile_cont(0.5) within group (order by p.interactions)
                       as trailing_median,
                   count(*) as history_days
            from {BUILD_SCHEMA}.fct_daily_volume p
            where p.district_id = v.district_id and p.is_service_day
              and p.local_date < v.local_date
              and p.local_date >= v.local_date - {int(g.volume_trailing_days)}
        ) t on true
        where v.is_service_day
          and v.local_date > ({_ts(as_of)} at time zone 'UTC')::date
                             - {int(g.volume_jump_lookback_days)}
          and t.history_days >= {int(g.volume_jump_min_history_days)}
          and t.trailing_median >= {float(g.volume_jump_min_median)}
          and (v.interactions > {factor} * t.trailing_median
               or v.interactions * {factor} < t.trailing_median)
        order by v.district_id, v.local_date""")
    return Check(
        "fct_daily_volume.no_jump_vs_trailing_median",
        "volume_jump",
        "fct_daily_volume",
        "UnexpectedRowsExpectation",
        {"unexpected_rows_query": query},
        f"No recent service day's interactions are more than {factor:g}x (or less than "
        f"1/{factor:g}) the district's trailing {g.volume_trailing_days}-day median.",
    )


def row_count_checks(cfg: DeploymentConfig, marts_has_interactions: bool) -> list[Check]:
    keep = 1.0 - float(cfg.gate.row_count_drop_max)
    out = []
    for mart in MART_KEYS:
        # The last published night's counts, as recorded by publish; no publish yet: no rows.
        query = _sql(f"""
            select '{mart}' as mart, n.build_rows, p.published_rows, p.run_id
            from (select count(*) as build_rows from {{batch}} b) n
            cross join (
                select (l.row_counts ->> '{mart}')::bigint as published_rows, l.run_id
                from ops.publish_log l where l.published
                order by l.logged_at desc limit 1
            ) p
            where p.published_rows is not null and n.build_rows < {keep} * p.published_rows""")
        out.append(
            Check(
                f"{mart}.row_count_vs_last_publish",
                "row_count_drop",
                mart,
                "UnexpectedRowsExpectation",
                {"unexpected_rows_query": query},
                f"build.{mart} keeps at least {keep:.0%} of the rows of the last published night.",
            )
        )
    if marts_has_interactions:
        # A total can hide one district's extract losing most of its rows; compare each
        # district with what is published now.
        query = _sql(f"""
            select p.district_id, coalesce(n.build_rows, 0) as build_rows, p.published_rows
            from (select district_id, count(*) as published_rows
                  from {MARTS_SCHEMA}.fct_interactions group by district_id) p
            left join (select b.district_id, count(*) as build_rows
                       from {{batch}} b group by b.district_id) n using (district_id)
            where coalesce(n.build_rows, 0) < {keep} * p.published_rows
            order by p.district_id""")
        out.append(
            Check(
                "fct_interactions.district_rows_vs_published",
                "district_row_count_drop",
                "fct_interactions",
                "UnexpectedRowsExpectation",
                {"unexpected_rows_query": query},
                f"Every district keeps at least {keep:.0%} of its published interactions.",
            )
        )
    return out


def freshness_check(as_of: dt.datetime) -> Check:
    # Freshness is read from ops.extract_runs (the last *successful* run per source), not from
    # max(raw._loaded_at): a quiet source (summer, a small mailbox) lands no rows on a good
    # night, and a landed row says nothing about whether the extract then finished.
    query = _sql(f"""
        select s.source_instance, s.district_id, s.max_lag_hours, r.last_success,
               round((extract(epoch from {_ts(as_of)} - r.last_success) / 3600)::numeric, 1)
                   as lag_hours
        from ref.sources s
        join {{batch}} d on d.district_id = s.district_id
        left join (select source_instance, max(finished_at) as last_success
                   from ops.extract_runs where status = 'success'
                   group by source_instance) r using (source_instance)
        where r.last_success is null
           or r.last_success < {_ts(as_of)} - s.max_lag_hours * interval '1 hour'
        order by s.source_instance""")
    return Check(
        "sources.loaded_within_max_lag",
        "freshness",
        "dim_district",
        "UnexpectedRowsExpectation",
        {"unexpected_rows_query": query},
        "Every configured source of a built district had a successful extract within its "
        "max_lag_hours of the run's end.",
    )


def peer_checks(cfg: DeploymentConfig) -> list[Check]:
    k = int(cfg.benchmarks.k_min_districts)
    return [
        Check(
            "peer_benchmarks.k_min_districts",
            "peer_k_min",
            "peer_benchmarks",
            "UnexpectedRowsExpectation",
            {
                "unexpected_rows_query": _sql(f"""
                select district_id, metric, period_type, period_start, peer_group,
                       n_districts
                from {{batch}}
                where suppression_reason is null
                  and (n_districts is null or n_districts < {k})""")
            },
            f"Unsuppressed peer rows have at least k = {k} districts.",
        ),
        # The privacy rule itself, whatever the row's suppression reason: a district below n
        # (suppression_reason district_below_n) still sees its group's aggregates, but no
        # aggregate is ever published for a group of fewer than k districts.
        Check(
            "peer_benchmarks.aggregates_only_for_k_districts",
            "peer_aggregates_k",
            "peer_benchmarks",
            "UnexpectedRowsExpectation",
            {
                "unexpected_rows_query": _sql(f"""
                select district_id, metric, period_type, period_start, peer_group,
                       n_districts, suppression_reason
                from {{batch}}
                where (peer_p25 is not null or peer_median is not null or peer_p75 is not null)
                  and (n_districts is null or n_districts < {k})""")
            },
            f"Peer aggregates are only published for groups of at least k = {k} districts.",
        ),
    ]


def all_checks(
    cfg: DeploymentConfig, as_of: dt.datetime, marts_has_interactions: bool
) -> list[Check]:
    checks: list[Check] = []
    for mart in MART_KEYS:
        checks += key_checks(mart)
    checks += interaction_checks(cfg)
    checks += value_range_checks(cfg)
    checks.append(volume_jump_check(cfg, as_of))
    checks += row_count_checks(cfg, marts_has_interactions)
    checks.append(freshness_check(as_of))
    checks += peer_checks(cfg)
    names = [c.name for c in checks]
    assert len(names) == len(set(names)), "check names must be unique"
    return checks
