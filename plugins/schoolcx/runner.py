"""Run the nightly DAG through Airflow for a range of days (`schoolcx run`, `schoolcx demo`).

Uses `dag.test()`: a real DAG run with real task instances on a local SQLite metadata DB, no
scheduler needed. Sets up what a fresh machine lacks (Airflow's DB, the dbt manifest, the
warehouse connection) before the first run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from schoolcx.paths import DBT_PROJECT_DIR, local_dir
from schoolcx.settings import WAREHOUSE_CONN_ID, airflow_env

log = logging.getLogger(__name__)
DAG_ID = "schoolcx_nightly"
RUN_HOUR_UTC = 8  # the nightly interval boundary; see dags/schoolcx_nightly.py


def ensure_hash_key() -> None:
    """A deployment sets SCHOOLCX_HASH_KEY itself; locally we make one secret per checkout."""
    from schoolcx.privacy import HASH_KEY_ENV

    if os.environ.get(HASH_KEY_ENV):
        return
    key_file = local_dir() / "secrets" / "hash_key"
    if not key_file.exists():
        import secrets

        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    os.environ[HASH_KEY_ENV] = key_file.read_text().strip()


def manifest_is_fresh() -> bool:
    """Whether dbt's manifest is newer than every file of the dbt project."""
    from schoolcx.orchestration import MANIFEST

    sources = [
        p
        for p in DBT_PROJECT_DIR.rglob("*")
        if p.suffix in {".sql", ".yml", ".yaml", ".csv"} and "target" not in p.parts
    ]
    newest = max((p.stat().st_mtime for p in sources), default=0)
    return MANIFEST.exists() and MANIFEST.stat().st_mtime >= newest


@contextlib.contextmanager
def manifest_lock():
    """Held while the manifest is checked and rebuilt: two processes on one checkout (a test
    suite's workers, a demo beside a test) must not write it while the other reads it."""
    import fcntl

    from schoolcx.orchestration import MANIFEST

    MANIFEST.parent.mkdir(parents=True, exist_ok=True)
    with open(MANIFEST.parent / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def ensure_manifest(url: str) -> Path:
    """Build dbt's manifest ahead (cosmos parses it; DAG parsing never runs dbt)."""
    from schoolcx import pipeline
    from schoolcx.orchestration import MANIFEST

    with manifest_lock():
        if not manifest_is_fresh():
            log.info("building the dbt manifest (dbt parse)")
            pipeline.dbt(url, ["parse", "--quiet"])
    return MANIFEST


def setup_airflow(url: str) -> None:
    for key, value in airflow_env().items():
        os.environ.setdefault(key, value)
    Path(os.environ["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    from schoolcx.warehouse.connect import url_parts

    p = url_parts(url)
    os.environ.setdefault(
        f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": p["host"],
                "port": int(p["port"]),
                "login": p["user"],
                "password": p["password"] or "unused",
                "schema": p["dbname"],
            }
        ),
    )
    marker = Path(os.environ["AIRFLOW_HOME"]) / ".db-migrated"
    if not marker.exists():
        log.info("initialising Airflow's metadata DB (airflow db migrate)")
        exe = Path(sys.executable).parent / "airflow"
        subprocess.run(
            [str(exe), "db", "migrate"],
            check=True,
            env=os.environ.copy(),
            stdout=subprocess.DEVNULL,
        )
        marker.touch()


def load_dag(dag_id: str = DAG_ID):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    return bag.get_dag(dag_id)


def logical_date_for(day: dt.date) -> dt.datetime:
    """The manual-run date whose data interval is [day 08:00, day+1 08:00) UTC."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(RUN_HOUR_UTC), tzinfo=dt.UTC)


def interval_end_for(day: dt.date) -> dt.datetime:
    """The end of night `day`'s data interval (the manual run's logical date)."""
    return logical_date_for(day)


def published_nights(url: str, days: list[dt.date]) -> dict[dt.date, str]:
    """Of `days`, the nights already published (night -> the as-of date it published)."""
    import psycopg

    from schoolcx.warehouse import migrate

    migrate(url)
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select data_interval_end, max(as_of_date) from ops.publish_log"
            " where published and data_interval_end = any(%s) group by data_interval_end",
            ([interval_end_for(d) for d in days],),
        ).fetchall()
    by_end = {end: as_of for end, as_of in rows}
    return {d: str(by_end[interval_end_for(d)]) for d in days if interval_end_for(d) in by_end}


def run_range(
    start: dt.date,
    end: dt.date,
    full_refresh: bool = False,
    republish: bool = False,
    days: list[dt.date] | None = None,
    progress=None,
    summary_file=None,
) -> bool:
    """Run the nightly DAG for each day from start to end (or the given `days`); print progress
    and a summary. A night older than the published marts loads raw, builds and records its
    gate, but publishes only with `republish` (schoolcx.publish.wap).

    `progress` (schoolcx.console.NightProgress) draws each night's stages instead of the
    plain lines; the run summary goes to `summary_file` (default stdout)."""
    from schoolcx import pipeline

    ensure_hash_key()
    url = pipeline.resolve_warehouse_url()
    os.environ.setdefault("WAREHOUSE_URL", url)  # every task and dbt use this one server
    from schoolcx.warehouse import migrate

    migrate(url)
    ensure_manifest(url)
    setup_airflow(url)
    dag = load_dag()
    if days is None:
        days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    results = []
    for n, day in enumerate(days, 1):
        print(f"[{n}/{len(days)}] nightly run for {day} ...", flush=True)
        started = time.monotonic()
        conf = {"full_refresh": full_refresh and n == 1, "republish": republish}
        with progress.night(day, n, len(days), dag) if progress else contextlib.nullcontext():
            dagrun = dag.test(logical_date=logical_date_for(day), run_conf=conf)
        state = str(getattr(dagrun, "state", "unknown"))
        seconds = time.monotonic() - started
        results.append((day, state, getattr(dagrun, "run_id", "?"), seconds))
        print(f"[{n}/{len(days)}] {day}: {state} in {seconds:.0f}s", flush=True)
    print_run_summary(url, results, file=summary_file)
    return all(r[1].endswith("success") for r in results)


def run_range_quiet(start: dt.date, end: dt.date, **kwargs) -> bool:
    """run_range with a quiet console (schoolcx.console): logs to .local/logs/run-*.log, a
    progress bar per night and stage on the terminal, errors in full with the log's path."""
    from schoolcx import pipeline
    from schoolcx.console import NightProgress, quiet_run

    def body(console, log) -> bool:
        url = pipeline.resolve_warehouse_url()
        sources = len(pipeline.current_config().sources())
        with NightProgress(console, log, url, sources=sources) as progress:
            return run_range(start, end, progress=progress, summary_file=console.file, **kwargs)

    return quiet_run("run", body)


def print_run_summary(url: str, results: list[tuple], file=None) -> None:
    import psycopg

    print("\nruns:", file=file)
    with psycopg.connect(url) as conn:
        for day, state, run_id, seconds in results:
            ext = conn.execute(
                "select count(*), count(*) filter (where status <> 'success'),"
                " coalesce(sum(records_loaded), 0), coalesce(sum(records_quarantined), 0)"
                " from ops.extract_runs where run_id = %s",
                (run_id,),
            ).fetchone()
            pub = conn.execute(
                "select published, gate_passed, row_counts, as_of_date from ops.publish_log"
                " where run_id = %s order by logged_at desc limit 1",
                (run_id,),
            ).fetchone()
            if not pub:
                published = "not published"
            elif pub[0]:
                published = f"published as of {pub[3]}"
            elif pub[1]:
                published = "not published: newer marts are published (--republish to replace)"
            else:
                published = "gate blocked"
            rows = sum((pub[2] or {}).values()) if pub and pub[0] else 0
            print(
                f"  {day}  {state:<8} {seconds:5.0f}s  sources {ext[0]} "
                f"(failed {ext[1]}), new raw records {ext[2]}, quarantined {ext[3]}, "
                f"{published} ({rows} mart rows)",
                file=file,
            )
