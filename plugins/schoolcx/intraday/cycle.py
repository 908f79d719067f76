"""One intraday cycle: today so far, published alone as marts.today_status.

extract (every configured source, the same connectors from the same saved state as the
nightly: no second cursor) → dbt run of +today_status into the intraday schemas
(stg_intraday, int_intraday, build_intraday: the nightly's incremental models, watermarks and
`build` are never touched) → dbt tests of today_status → the gate checks that apply (each
configured district has its row, sources fresh) → one-transaction publish of today_status
alone (the other marts are not read or written) → ops.intraday_cycles.

The nightly and a cycle never overlap (schoolcx.intraday.lease).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from dataclasses import asdict, dataclass, field

import psycopg

from schoolcx.config import DeploymentConfig
from schoolcx.intraday.hours import open_districts
from schoolcx.lease import intraday_turn

log = logging.getLogger(__name__)

MART = "today_status"
# A cycle whose instant is older than this is a replay (the demo's last day, `--at` in the
# past): it never extracts. A connector asked for records up to a moment before its saved
# cursor would move that cursor back; the nightly would then re-read what it had.
LIVE_WITHIN = dt.timedelta(minutes=15)
SCHEMA_SUFFIX = "_intraday"
BUILD_SCHEMA = "build" + SCHEMA_SUFFIX


@dataclass
class CycleResult:
    run_id: str
    cycle_at: str
    status: str  # published | skipped | blocked | failed
    reason: str | None = None
    row_count: int | None = None
    checksum: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # per step, and total
    extracts: dict[str, str] = field(default_factory=dict)  # source -> ok | error

    def to_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        took = self.seconds.get("total", 0.0)
        what = f"{self.status}" + (f" ({self.reason})" if self.reason else "")
        rows = f", {self.row_count} districts" if self.row_count is not None else ""
        return f"intraday cycle at {self.cycle_at}: {what}{rows} in {took:.1f}s"


def dbt_vars(cfg: DeploymentConfig, at: dt.datetime) -> dict:
    from zoneinfo import ZoneInfo

    local_dates = [at.astimezone(ZoneInfo(d.timezone)).date() for d in cfg.districts]
    return {
        "schema_suffix": SCHEMA_SUFFIX,
        # fct_interactions' own as-of (its sla_met): today; today_status recomputes waits at
        # the cycle's instant itself
        "as_of_date": min(local_dates).isoformat(),
        "k_min_districts": cfg.benchmarks.k_min_districts,
        "n_min_observations": cfg.benchmarks.n_min_observations,
    }


def run_cycle(
    url: str,
    cfg: DeploymentConfig,
    at: dt.datetime | None = None,
    *,
    run_id: str | None = None,
    extract: bool = True,
    force: bool = False,
    prepare: bool = True,
) -> CycleResult:
    """One cycle as of `at` (default now). `force`: run outside service hours too (the CLI's
    --force, tests). `extract=False`: build from raw as it is (tests, the bench's dbt cost).
    `prepare=False`: ref.* as they are (the bench synced them for its own calendar)."""
    at = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    run_id = run_id or f"intraday:{at:%Y-%m-%dT%H:%M:%SZ}"
    result = CycleResult(run_id=run_id, cycle_at=at.isoformat(), status="skipped")
    started = time.monotonic()
    from schoolcx.warehouse import migrate

    migrate(url)  # ops.intraday_cycles, ops.pipeline_leases before anything ran here
    if not force and not open_districts(cfg, at):
        result.reason = "skipped: no district is in its service hours"
    else:
        with intraday_turn(url) as busy:
            if busy:
                result.reason = busy
            else:
                try:
                    _steps(url, cfg, at, run_id, extract, prepare, result)
                except Exception as exc:
                    result.status, result.reason = "failed", f"{type(exc).__name__}: {exc}"[:2000]
                    result.seconds["total"] = round(time.monotonic() - started, 3)
                    _record(url, result)
                    raise
    result.seconds["total"] = round(time.monotonic() - started, 3)
    if result.status != "published":
        (log.warning if result.status != "skipped" else log.info)("%s", result.line())
        _record(url, result)
    else:
        log.info("%s", result.line())
    return result


class CycleBlocked(RuntimeError):
    """The checks blocked today_status: the Airflow task fails, marts.today_status stays."""


def airflow_cycle(at: dt.datetime) -> dict:
    """The DAG's task: one cycle as of the run's logical date, against the deployment's
    warehouse and config; fails when the checks blocked it."""
    from schoolcx import pipeline

    result = run_cycle(pipeline.resolve_warehouse_url(), pipeline.current_config(), at)
    if result.status == "blocked":
        raise CycleBlocked(f"intraday checks blocked today_status: {result.reason}")
    return result.to_dict()


def _steps(
    url: str,
    cfg: DeploymentConfig,
    at: dt.datetime,
    run_id: str,
    extract: bool,
    prepare: bool,
    r: CycleResult,
) -> None:
    from schoolcx import pipeline

    if prepare:
        t = time.monotonic()
        pipeline.prepare(url, cfg)  # migrations, ref.* from config, BI roles: as the nightly
        r.seconds["prepare"] = round(time.monotonic() - t, 3)
    if extract and at < dt.datetime.now(dt.UTC) - LIVE_WITHIN:
        log.info("cycle at %s is a replay: no extract (cursors never move back)", at)
        r.extracts["*"] = "skipped: a replay of a past instant extracts nothing"
    elif extract:
        t = time.monotonic()
        for _, source in cfg.sources():
            try:
                pipeline.extract(url, cfg, source.name, run_id, at)
                r.extracts[source.name] = "ok"
            except Exception as exc:  # one source failing does not stop the others
                log.error("intraday extract of %s failed: %s", source.name, exc)
                r.extracts[source.name] = f"{type(exc).__name__}: {exc}"[:300]
        r.seconds["extract"] = round(time.monotonic() - t, 3)
    t = time.monotonic()
    build_today_status(url, cfg, at)
    r.seconds["dbt"] = round(time.monotonic() - t, 3)
    t = time.monotonic()
    failures = gate_failures(url, cfg, at)
    r.seconds["gate"] = round(time.monotonic() - t, 3)
    if failures:
        r.status, r.reason = "blocked", "; ".join(failures)
        return
    t = time.monotonic()
    publish_today_status(url, r, at)
    r.seconds["publish"] = round(time.monotonic() - t, 3)


def dbt_env(at: dt.datetime) -> dict[str, str]:
    """Its own target and log folders (the nightly's manifest, which cosmos parses, is never
    overwritten by a build with other vars; partial parsing stays warm between cycles), and
    the cycle's instant as an env var (re-parses today_status only; vars change once a day)."""
    from schoolcx.paths import local_dir

    root = local_dir() / "dbt-intraday"
    return {
        "DBT_TARGET_PATH": str(root / "target"),
        "DBT_LOG_PATH": str(root / "logs"),
        "SCHOOLCX_INTRADAY_AT": at.astimezone(dt.UTC).isoformat(),
    }


def build_today_status(url: str, cfg: DeploymentConfig, at: dt.datetime) -> None:
    """One dbt build: today_status and every model it reads, and today_status's own tests
    (tagged intraday; --indirect-selection empty keeps the upstream models' data tests out:
    they run every night on the same code, not again every 15 minutes)."""
    from schoolcx import pipeline

    pipeline.dbt(
        url,
        [
            "build",
            "--select",
            f"+{MART}",
            "tag:intraday,resource_type:test",
            "--indirect-selection",
            "empty",
            "--vars",
            json.dumps(dbt_vars(cfg, at)),
            "--quiet",
        ],
        extra_env=dbt_env(at),
    )


def gate_failures(url: str, cfg: DeploymentConfig, at: dt.datetime) -> list[str]:
    """The nightly gate's checks that apply to today_status, as plain SQL (GX's context costs
    seconds a 15-minute cycle does not need): every configured district has its row for this
    instant, and every source had a successful extract within its max lag (a critical check
    unless the deployment lowered it). dbt's tests (keys, contract, consistency) ran already."""
    from schoolcx.quality.checks import freshness_check

    failures: list[str] = []
    relation = f"{BUILD_SCHEMA}.{MART}"
    with psycopg.connect(url) as conn:
        rows = {
            r[0]
            for r in conn.execute(
                f"select district_id from {relation} where as_of_at = %s",
                (at,),
            )
        }
        missing = {d.district_id for d in cfg.districts} - rows
        if missing:
            failures.append(f"today_status has no row as of {at} for {sorted(missing)}")
        fresh = freshness_check(at)
        stale = conn.execute(fresh.sql.replace("{batch}", relation)).fetchall()
        if stale:
            names = ", ".join(str(s[0]) for s in stale)
            if fresh.severity(cfg.gate.severity) == "critical":
                failures.append(f"{fresh.name}: sources not loaded within their max lag: {names}")
            else:
                log.warning("%s (warning): %s", fresh.name, names)
    return failures


def publish_today_status(url: str, r: CycleResult, at: dt.datetime) -> None:
    """marts.today_status from build_intraday in one transaction, under publish's lock (never
    interleaved with the nightly's publish); never an older cycle over a newer one."""
    from schoolcx.publish.checksum import relation_checksum
    from schoolcx.publish.relations import MARTS_SCHEMA
    from schoolcx.publish.roles import apply_mart_access
    from schoolcx.publish.wap import PUBLISH_LOCK, _replace

    with psycopg.connect(url) as conn:
        conn.execute("select pg_advisory_xact_lock(%s)", (PUBLISH_LOCK,))
        newest = conn.execute(
            "select max(cycle_at) from ops.intraday_cycles where status = 'published'"
        ).fetchone()[0]
        if newest is not None and newest > at:
            r.status, r.reason = "skipped", f"skipped: a newer cycle ({newest}) is published"
            return
        _replace(conn, MART, build_schema=BUILD_SCHEMA)
        apply_mart_access(conn, MART)
        r.row_count, r.checksum = relation_checksum(conn, MARTS_SCHEMA, MART)
        r.status = "published"
        _insert(conn, r)


def _record(url: str, r: CycleResult) -> None:
    try:
        with psycopg.connect(url) as conn:
            _insert(conn, r)
    except psycopg.Error as exc:  # never hides why the cycle itself failed
        log.error("could not record intraday cycle %s: %s", r.run_id, exc)


def _insert(conn: psycopg.Connection, r: CycleResult) -> None:
    conn.execute(
        "insert into ops.intraday_cycles (run_id, cycle_at, status, reason, row_count,"
        " checksum, seconds) values (%s, %s, %s, %s, %s, %s, %s)",
        (
            r.run_id,
            r.cycle_at,
            r.status,
            r.reason,
            r.row_count,
            r.checksum,
            r.seconds.get("total"),
        ),
    )
