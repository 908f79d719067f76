"""The intraday cycle's cost (issue 18: one cycle at M under 60 s).

Measured twice per scale, with schoolcx.intraday.cycle.run_cycle itself (no extract: the
synthetic raw is already landed; extraction rates are bench.extract's):

- `first`: the first cycle ever, right after the nightly full build: the intraday schemas
  (stg_intraday, int_intraday, build_intraday) are empty, so it builds them in full, once;
- `cycle`: after the night's raw rows land: the incremental cycle over a whole night of new
  records (a real 15-minute cycle sees a fraction of that: this is an upper bound);
- `next`: 15 minutes later with nothing new landed: the fixed cost of a cycle (dbt start,
  partial parse, the ref views and calendar rebuilt, checks, publish).
"""

from __future__ import annotations

import datetime as dt

import psycopg

from schoolcx.config import DeploymentConfig


def mark_extracted(url: str, at: dt.datetime) -> None:
    """Every source had a successful extract at `at` (the cycle's freshness check)."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "insert into ops.extract_runs (run_id, batch_id, source_instance, source_type,"
            " started_at, finished_at, status) select %(run)s, %(run)s || source_instance,"
            " source_instance, source_type, %(at)s, %(at)s, 'success' from ref.sources",
            {"run": f"bench-intraday-{at.isoformat()}", "at": at},
        )


def bench_cycle(url: str, cfg: DeploymentConfig, at: dt.datetime) -> dict:
    from schoolcx.intraday.cycle import run_cycle

    mark_extracted(url, at)
    result = run_cycle(url, cfg, at, extract=False, force=True, prepare=False)
    return {
        "status": result.status,
        "reason": result.reason,
        "seconds": result.seconds.get("total"),
        "steps": result.seconds,
        "at": result.cycle_at,
    }


def cycle_instant(day: dt.date) -> dt.datetime:
    """16:00 UTC: mid-morning in every mainland US district."""
    return dt.datetime.combine(day, dt.time(16), tzinfo=dt.UTC)
