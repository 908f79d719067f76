"""The nightly pipeline's steps as plain functions: Airflow tasks and the CLI call these.

prepare → extract (one call per source) → dbt build into `build` → quality gate → publish →
report. Each step takes the warehouse URL and the deployment config, so each can be run and
tested without Airflow.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess

from schoolcx.config import DeploymentConfig, load_config
from schoolcx.paths import DBT_PROJECT_DIR, dbt_executable
from schoolcx.settings import WAREHOUSE_CONN_ID, config_path

log = logging.getLogger(__name__)


def resolve_warehouse_url() -> str:
    """WAREHOUSE_URL, else the Airflow connection schoolcx_warehouse, else the embedded server."""
    if os.environ.get("WAREHOUSE_URL"):
        from schoolcx.warehouse.connect import mask_password

        return mask_password(os.environ["WAREHOUSE_URL"])  # a task's log must not show it
    from schoolcx.connections import ConnectionNotFound, get_connection

    try:
        c = get_connection(WAREHOUSE_CONN_ID)
    except ConnectionNotFound:
        from schoolcx.warehouse import warehouse_url

        return warehouse_url()
    from schoolcx.warehouse.connect import make_url

    # libpq quoting (not an f-string URL): a password with @ / : # stays the password
    return make_url(c.host, c.port, c.login, c.password, c.schema or "schoolcx")


def current_config() -> DeploymentConfig:
    return load_config(config_path())


def as_of_date(data_interval_end: dt.datetime, cfg: DeploymentConfig) -> dt.date:
    """The as-of date a run reports: the last local date that has fully ended by the interval's
    end in every configured district's time zone (schoolcx.asof; Honolulu and Anchorage lag
    the mainland at 08:00 UTC)."""
    from schoolcx.asof import run_as_of

    return run_as_of(data_interval_end, cfg.districts)


def prepare(url: str, cfg: DeploymentConfig) -> list[str]:
    """Migrate, sync the config into ref.* and the BI roles; return the source names."""
    from schoolcx.refsync import sync_config
    from schoolcx.warehouse import migrate

    applied = migrate(url)
    if applied:
        log.info("applied migrations: %s", ", ".join(applied))
    repack_raw(url)
    counts = sync_config(url, cfg)
    log.info("synced config %r: %s", cfg.name, counts)
    try:
        from schoolcx.publish.roles import sync_bi_roles
    except ImportError:  # pragma: no cover - roles module arrives with the publish stage
        log.warning("BI roles module not available; skipping role sync")
    else:
        sync_bi_roles(url, cfg)
    return [s.name for _, s in cfg.sources()]


def repack_raw(url: str) -> None:
    """Re-project raw payloads of tables whose shape changed in the code (schoolcx.load.packing),
    before any dbt build reads them. A shape changes with the staging model that reads the new
    path, and that model change makes the night's build a full refresh (schoolcx.refchange)."""
    from schoolcx.load import packing

    for summary in packing.repack_stale(url, progress=log.info):
        log.warning("%s", summary.line())


def plan_refresh(url: str, requested: bool = False) -> dict:
    """After prepare (ref.* synced): whether tonight's dbt build must be a full refresh.

    A full refresh when requested, or when the reference data changed since the last
    successful build (schoolcx.refchange). Returns RefreshDecision.to_dict(); the DAG passes
    `full_refresh` to cosmos and the whole dict to `record_ref_fingerprint` after the build.
    """
    from schoolcx.refchange import decide_full_refresh

    decision = decide_full_refresh(url, requested=requested)
    if decision.full_refresh:
        log.warning("%s", decision.reason)
    else:
        log.info("%s: incremental build tonight", decision.reason)
    return decision.to_dict()


def record_ref_fingerprint(url: str, run_id: str, plan: dict) -> None:
    """Once the dbt build succeeded: record the reference data it was computed from."""
    from schoolcx.refchange import record_build

    record_build(url, run_id, plan)
    log.info(
        "recorded reference fingerprint %s for run %s (full refresh: %s)",
        plan["fingerprint"],
        run_id,
        plan["full_refresh"],
    )


def extract(
    url: str, cfg: DeploymentConfig, source_name: str, run_id: str, until: dt.datetime
) -> dict:
    from schoolcx.extract import extract_source

    summary = extract_source(url, cfg, source_name, run_id=run_id, until=until)
    return {
        "source": source_name,
        "pages": summary.pages,
        "received": summary.received,
        "inserted": summary.inserted,
        "skipped": summary.skipped,
        "quarantined": dict(summary.quarantined),
    }


def dbt_env(url: str) -> dict[str, str]:
    """Environment for dbt's committed profile (all env_var()), as the nightly DAG runs it."""
    from schoolcx.orchestration import NIGHTLY_DBT_ENV
    from schoolcx.warehouse.connect import url_parts

    p = url_parts(url)
    return {
        **NIGHTLY_DBT_ENV,
        "SCHOOLCX_PG_HOST": p["host"],
        "SCHOOLCX_PG_PORT": p["port"],
        "SCHOOLCX_PG_USER": p["user"],
        "SCHOOLCX_PG_PASSWORD": p["password"] or "unused",
        "SCHOOLCX_PG_DBNAME": p["dbname"],
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
    }


def dbt_vars(cfg: DeploymentConfig, as_of: dt.date) -> dict:
    return {
        "as_of_date": as_of.isoformat(),
        "k_min_districts": cfg.benchmarks.k_min_districts,
        "n_min_observations": cfg.benchmarks.n_min_observations,
    }


def dbt(
    url: str, args: list[str], check: bool = True, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run the dbt CLI of this environment against the warehouse."""
    env = {**os.environ, **dbt_env(url), **(extra_env or {})}
    return subprocess.run(
        [dbt_executable(), *args, "--project-dir", str(DBT_PROJECT_DIR)],
        env=env,
        check=check,
        text=True,
    )


def gate(url: str, cfg: DeploymentConfig, run_id: str, as_of: dt.datetime):
    from schoolcx.quality import run_gate

    return run_gate(url, cfg, run_id, as_of)


def publish(
    url: str,
    cfg: DeploymentConfig,
    run_id: str,
    start: dt.datetime,
    end: dt.datetime,
    gate_result,
    republish: bool = False,
    as_of: dt.date | None = None,
):
    """Publish as of `as_of`: the date the night's dbt build used (the DAG passes the one
    `prepare` computed), else the config's as-of for the interval's end."""
    from schoolcx.publish import publish as do_publish

    return do_publish(
        url,
        cfg,
        run_id,
        start,
        end,
        gate_result,
        as_of=as_of or as_of_date(end, cfg),
        republish=republish,
    )


def report(url: str, cfg: DeploymentConfig, as_of: dt.date) -> str:
    from pathlib import Path

    from schoolcx.quality.page import write_gate_page
    from schoolcx.report import write_report

    path = write_report(url, cfg, as_of)
    # the gate's results beside the report (gate.html): readable offline, unlike Data Docs
    write_gate_page(url, Path(path).parent)
    return path


class SourcesFailed(RuntimeError):
    pass


def check_extracts(url: str, run_id: str) -> dict:
    """Summarise this run's extracts from ops.extract_runs; log failed sources loudly.

    It never fails the run itself: a source that failed leaves its raw data as of its last
    good night, and the gate's freshness expectation decides whether that blocks publishing.
    """
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select source_instance, status, records_loaded, records_quarantined, error"
            " from ops.extract_runs where run_id = %s order by source_instance, started_at",
            (run_id,),
        ).fetchall()
    latest = {r[0]: r for r in rows}  # a retried source's last attempt counts
    failed = {s: r[4] for s, r in latest.items() if r[1] != "success"}
    for source, error in failed.items():
        log.error("source %s failed this run: %s", source, error)
    summary = {
        "sources": len(latest),
        "failed": sorted(failed),
        "records_loaded": sum(r[2] for r in latest.values()),
        "records_quarantined": sum(r[3] for r in latest.values()),
    }
    log.info("extract summary: %s", summary)
    return summary


class GateFailed(RuntimeError):
    """The quality gate blocked publication; the message lists the failed expectations."""


def gate_step(url: str, cfg: DeploymentConfig, run_id: str, as_of: dt.datetime) -> dict:
    result = gate(url, cfg, run_id, as_of)
    log.info("%s", result.summary())
    if not result.passed:
        from schoolcx.publish import record_blocked

        record_blocked(url, run_id, result)
        raise GateFailed(f"quality gate blocked publication:\n{result.summary()}")
    return result.to_dict()


def publish_step(
    url: str,
    cfg: DeploymentConfig,
    run_id: str,
    start: dt.datetime,
    end: dt.datetime,
    gate_result: dict,
    republish: bool = False,
    as_of: dt.date | None = None,
) -> dict:
    """Publish; an older night than the published one is skipped unless `republish`."""
    from schoolcx.quality import GateResult

    gate = GateResult.from_dict(gate_result)
    result = publish(url, cfg, run_id, start, end, gate, republish, as_of)
    log.info("%s: %s", result.skipped or "published", result)
    return result.to_dict()


def report_step(url: str, cfg: DeploymentConfig, published: dict) -> str | None:
    """Write the report of a night that published, as of the date it published (one as-of for
    build, publish and report); a skipped night has nothing of its own in `marts` (they show
    a newer night), so it writes none."""
    as_of = published.get("as_of")
    if not published.get("published") or as_of is None:
        log.info("no report for %s: %s", as_of, published.get("skipped") or "not published")
        return None
    return report(url, cfg, dt.date.fromisoformat(as_of))


# ---------------------------------------------------------------- the intraday path (issue 18)


def begin_nightly(url: str, run_id: str) -> None:
    """The nightly's first step: take the pipeline lease (waits for a running intraday cycle;
    intraday cycles skip until end_nightly). Expires with the run's timeout."""
    from schoolcx.lease import begin_nightly as take
    from schoolcx.runtime import dagrun_timeout
    from schoolcx.warehouse import migrate

    migrate(url)  # the lease table on a first night
    take(url, run_id, ttl=dagrun_timeout())


def end_nightly(url: str, run_id: str) -> None:
    from schoolcx.lease import end_nightly as release

    release(url, run_id)
