"""dbt build benchmark: one school year of synthetic Zendesk data, full build and one night.

    python -m schoolcx.sandbox.bench.dbt [--scale S|M|S,M|M:12] [--weeks N] [--out PATH] [--keep]

Scales (issue 4): S = one 10,000-student district; M = a 100,000-student consortium of 12
districts of varied sizes across US time zones. Both cover one school year, 2025-08-18 to
2026-06-04 (about 186 service days), at about 450 contacts per 1,000 students per service day
(a trickle on weekends and closures), each district with one Zendesk source.

Method, per scale:

1. A fresh database on the warehouse server (WAREHOUSE_URL, else the embedded server under
   SCHOOLCX_HOME), migrated; the scale's DeploymentConfig is synced into ref.* (refsync), so
   the service calendars (federal holidays, breaks) are the ones dbt uses.
2. Synthesis, set-based in SQL (setseed + random(), normals by Box-Muller; days split over two
   seeded sessions, no parallel workers, so a scale is reproducible). A plan table holds one
   row per ticket with every moment of its life: created mostly in service hours of a service
   day in the district's zone (some evenings, early mornings, weekends); an optional trigger
   auto-reply; the first
   agent reply after a log-normal delay, moved into the next service interval; a requester
   follow-up and a second reply for some; solved, then closed by automation four days later;
   a few reopened and re-solved; a few never answered; about 20 % rated good/bad. Agent-opened
   phone and walk-in tickets start with the agent's comment.
3. Landing, from the plan, into raw.* in the connectors' payload shapes (docs/landing.md; the
   Zendesk emulator's rendering): tickets (with metric_set; version = generated_timestamp),
   ticket events (audits with Create/Change/Comment children), users (agents, requesters with
   locale and stakeholder type; person_hash = HMAC-SHA-256 of the email as RawWriter computes
   it), satisfaction ratings, groups, organizations. The year lands as nightly runs would have
   landed it: each record version is loaded by the run of the night after it (_loaded_at
   08:07 UTC, _batch_id per night and source), and each ticket lands its version as of the
   night it was created and its latest version as of the end of the year (two versions for
   most tickets; a year of nightly runs would land a version for every night it changed).
   Then VACUUM ANALYZE and a CHECKPOINT, as a year of autovacuum would have left the tables.
4. `dbt build --full-refresh` (pipeline.dbt: the DAG's profile and environment, its vars with
   as_of_date = the last day; unit tests excluded as in the nightly DAG), timed, with the
   slowest nodes and the time in models and in data tests from run_results.json.
5. Business-time microbenchmark: business_minutes_between (compiled by dbt from
   macros/business_time.sql) over 1,000,000 (created, first response) pairs from
   fct_interactions (repeated a year earlier when there are fewer), two equality joins to
   int_calendar_days as fct_interactions does; best and median of three timed runs.
6. One more night: tickets created on the next service day, and the new events and versions
   of earlier tickets changed that day (replies, solves, closes, ratings), landed with
   _loaded_at = now(); then `dbt build` (incremental) with as_of_date advanced one day.
7. Floors for comparison: `select count(*)` over each raw table (scan floor) and over each
   Zendesk staging table; sizes; peak RSS of this process and of its largest child (dbt).

Results go to a JSON file (default SCHOOLCX_HOME/bench/dbt.json) and a table on stdout. The
database is dropped at the end unless --keep.

Modules: scales (S, M, TINY and their configs), planning, payloads, sqlparts and landing
(the synthesis in SQL), synthesis (the Synthesiser driving them), timing (dbt runs and
measurements), report (the table), run (one scale end to end, and main).
"""

from schoolcx.sandbox.bench.dbt.report import report
from schoolcx.sandbox.bench.dbt.run import bench_scale, main, prepare
from schoolcx.sandbox.bench.dbt.scales import (
    SCALES,
    TINY,
    DistrictSpec,
    Scale,
    check_disk,
    deployment_config,
    disk_needed_gb,
)
from schoolcx.sandbox.bench.dbt.synthesis import Synthesiser, planned_tickets, vacuum_analyze
from schoolcx.sandbox.bench.dbt.timing import DbtRun, business_time_bench, run_dbt

__all__ = [
    "SCALES",
    "TINY",
    "DbtRun",
    "DistrictSpec",
    "Scale",
    "Synthesiser",
    "bench_scale",
    "business_time_bench",
    "check_disk",
    "deployment_config",
    "disk_needed_gb",
    "main",
    "planned_tickets",
    "prepare",
    "report",
    "run_dbt",
    "vacuum_analyze",
]
