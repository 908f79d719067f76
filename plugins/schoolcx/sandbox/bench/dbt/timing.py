"""dbt runs and measurements: timed builds, the business-time microbenchmark, scan floors,
sizes, server facts and peak RSS."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import resource
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from schoolcx.config import DeploymentConfig


@dataclass
class DbtRun:
    seconds: float
    returncode: int
    statuses: dict[str, int]
    nodes: dict[str, dict]  # unique_id -> {seconds, status, rows, kind, materialized}
    node_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    project: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_dbt(
    url: str,
    cfg: DeploymentConfig,
    as_of: dt.date,
    *,
    full_refresh: bool,
    target_dir: Path,
    select: list[str] | None = None,
    pg_options: str | None = None,
) -> DbtRun:
    """`dbt build` the way the DAG does (pipeline.dbt: its profile, env and vars), into its own
    target path; timed, with per-node times and rows from run_results.json. `pg_options`
    (PGOPTIONS, e.g. "-c enable_mergejoin=off") is for diagnostic variants only."""
    from schoolcx import pipeline

    project = project_fingerprint()

    args = [
        "build",
        "--vars",
        json.dumps(pipeline.dbt_vars(cfg, as_of)),
        "--target-path",
        str(target_dir),
        "--log-path",
        str(target_dir / "logs"),
    ]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", *select]
    args += ["--exclude", "tag:intraday"]  # as the nightly DAG (the intraday path's own)
    saved = os.environ.get("PGOPTIONS")
    if pg_options:
        os.environ["PGOPTIONS"] = pg_options
    try:
        started = time.monotonic()
        done = pipeline.dbt(url, args, check=False)
        seconds = time.monotonic() - started
    finally:
        if pg_options:
            os.environ.pop("PGOPTIONS")
            if saved is not None:
                os.environ["PGOPTIONS"] = saved
    if project_fingerprint() != project:
        project["changed_during_run"] = True
    results = json.loads((target_dir / "run_results.json").read_text())
    manifest = json.loads((target_dir / "manifest.json").read_text())
    nodes, statuses, errors = {}, {}, []
    for r in results["results"]:
        uid = r["unique_id"]
        node = manifest["nodes"].get(uid) or manifest.get("unit_tests", {}).get(uid) or {}
        rows = (r.get("adapter_response") or {}).get("rows_affected")
        nodes[uid] = {
            "seconds": round(r["execution_time"], 3),
            "status": r["status"],
            "rows": rows,
            "kind": uid.split(".")[0],
            "materialized": (node.get("config") or {}).get("materialized"),
        }
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        if r["status"] in ("error", "fail"):
            errors.append(f"{uid}: {(r.get('message') or '')[:300]}")
    return DbtRun(
        seconds,
        done.returncode,
        statuses,
        nodes,
        round(sum(n["seconds"] for n in nodes.values()), 1),
        errors,
        project,
    )


def project_fingerprint() -> dict:
    """What the timings belong to: git HEAD and a hash of the dbt project, migrations and
    refsync as they are on disk (uncommitted edits included)."""
    from schoolcx.paths import DBT_PROJECT_DIR, PROJECT_ROOT

    digest = hashlib.sha256()
    files = [DBT_PROJECT_DIR / "dbt_project.yml", PROJECT_ROOT / "plugins/schoolcx/refsync.py"]
    for sub in ("models", "macros", "seeds", "tests"):
        files += (DBT_PROJECT_DIR / sub).rglob("*")
    files += (PROJECT_ROOT / "plugins/schoolcx/warehouse/migrations").glob("*.sql")
    for f in sorted(f for f in files if f.is_file()):
        digest.update(str(f.relative_to(PROJECT_ROOT)).encode() + b"\0" + f.read_bytes())
    head = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {"git_head": head or None, "dbt_project_sha256": digest.hexdigest()[:16]}


def relation_name(target_dir: Path, model: str) -> str:
    manifest = json.loads((target_dir / "manifest.json").read_text())
    return manifest["nodes"][f"model.schoolcx.{model}"]["relation_name"]


def compile_inline(url: str, sql: str, target_dir: Path, dbt_vars: dict | None = None) -> str:
    """dbt's compiled text of an inline query (macros expanded, refs resolved), with the
    project's vars or `dbt_vars` (as_of_date: the as-of date a build used)."""
    from schoolcx.paths import DBT_PROJECT_DIR, dbt_executable
    from schoolcx.pipeline import dbt_env

    done = subprocess.run(
        [
            dbt_executable(),
            "compile",
            "--inline",
            sql,
            "--quiet",
            "--output",
            "json",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(target_dir),
            "--log-path",
            str(target_dir / "logs"),
            *(["--vars", json.dumps(dbt_vars)] if dbt_vars else []),
        ],
        env={**os.environ, **dbt_env(url)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout[done.stdout.index("{") :])["compiled"]


BUSINESS_TIME_SQL = """
select count(*) as pairs, sum(measured.minutes) as minutes
from (
    select {{ business_minutes_between('c0', 'p.t0', 'c1', 'p.t1') }} as minutes
    from bench_gen.bt_pairs as p
    left join {{ ref('int_calendar_days') }} as c0
        on c0.district_id = p.district_id and c0.local_date = {{ local_date('p.t0', 'p.tz') }}
    left join {{ ref('int_calendar_days') }} as c1
        on c1.district_id = p.district_id and c1.local_date = {{ local_date('p.t1', 'p.tz') }}
) as measured
"""


def business_time_bench(url: str, target_dir: Path, n: int = 1_000_000, repeats: int = 3) -> dict:
    """Business minutes between created_at and first_response_at for n pairs from
    fct_interactions (copies shifted 52 weeks back when there are fewer), with the macro as
    dbt compiles it; the query sums them so all n are computed and nothing is shipped."""
    fct = relation_name(target_dir, "fct_interactions")
    sql = compile_inline(url, BUSINESS_TIME_SQL, target_dir / "compile")
    with psycopg.connect(url) as conn:
        conn.execute("drop table if exists bench_gen.bt_pairs")
        conn.execute(
            f"""
            create unlogged table bench_gen.bt_pairs as
            select f.district_id, d.timezone as tz, f.created_at - s.shift as t0,
                f.first_response_at - s.shift as t1
            from {fct} as f
            inner join ref.districts as d on f.district_id = d.district_id
            cross join (values (interval '0 days'), (interval '364 days')) as s (shift)
            where f.first_response_at is not null
            limit %s
            """,
            (n,),
        )
        conn.execute("analyze bench_gen.bt_pairs")
        conn.commit()
        pairs = conn.execute("select count(*) from bench_gen.bt_pairs").fetchone()[0]
        conn.execute(sql)  # warm-up
        times = []
        for _ in range(repeats):
            started = time.monotonic()
            got, minutes = conn.execute(sql).fetchone()
            times.append(time.monotonic() - started)
        conn.execute("drop table bench_gen.bt_pairs")
    best = min(times)
    return {
        "pairs": pairs,
        "seconds_best": round(best, 3),
        "seconds_median": round(statistics.median(times), 3),
        "pairs_per_s": round(pairs / best),
        "total_business_minutes": float(minutes),
        "computed": got,
    }


def timed_counts(url: str, relations: list[str]) -> dict[str, dict]:
    """count(*) of each relation, timed (second of two runs: warm cache)."""
    out = {}
    with psycopg.connect(url) as conn:
        for rel in relations:
            conn.execute(f"select count(*) from {rel}")
            started = time.monotonic()
            n = conn.execute(f"select count(*) from {rel}").fetchone()[0]
            out[rel] = {"rows": n, "seconds": round(time.monotonic() - started, 3)}
    return out


# The warehouse's schemas the benchmark sizes: the nightly's and the intraday path's own copies
# (schoolcx.intraday builds stg, int and build again under the suffix _intraday).
SIZED_SCHEMAS = ("raw", "stg", "int", "build", "stg_intraday", "int_intraday", "build_intraday")


def sizes(url: str) -> dict:
    """The database's size, each schema's (tables with their indexes and TOAST; the intraday
    path's own copies stg_intraday, int_intraday and build_intraday included) and the largest
    tables'."""
    with psycopg.connect(url) as conn:
        db = conn.execute("select pg_database_size(current_database())").fetchone()[0]
        by_schema = conn.execute(
            """
            select n.nspname, sum(pg_total_relation_size(c.oid))
            from pg_class as c join pg_namespace as n on c.relnamespace = n.oid
            where c.relkind in ('r', 'm')
                and n.nspname = any(%s)
            group by n.nspname
            """,
            ([*SIZED_SCHEMAS, "bench_gen"],),
        ).fetchall()
        tables = conn.execute(
            """
            select n.nspname || '.' || c.relname, pg_total_relation_size(c.oid), c.reltuples
            from pg_class as c join pg_namespace as n on c.relnamespace = n.oid
            where c.relkind = 'r'
                and n.nspname = any(%s)
                and pg_total_relation_size(c.oid) > 8192 * 4
            order by 2 desc
            """,
            (list(SIZED_SCHEMAS),),
        ).fetchall()
    mb = 1024 * 1024
    return {
        "database_mb": round(db / mb),
        "schema_mb": {s: round(b / mb) for s, b in by_schema},
        "tables": {t: {"mb": round(b / mb, 1), "rows_est": int(r)} for t, b, r in tables},
    }


def server_facts(url: str) -> dict:
    with psycopg.connect(url) as conn:
        settings = dict(
            conn.execute(
                "select name, setting || coalesce(unit, '') from pg_settings where name in"
                " ('shared_buffers', 'work_mem', 'maintenance_work_mem', 'max_wal_size',"
                " 'max_parallel_workers_per_gather', 'effective_cache_size', 'jit')"
            ).fetchall()
        )
        version = conn.execute("show server_version").fetchone()[0]
    return {"server_version": version, "settings": settings}


def peak_rss_mb() -> dict:
    """Peak RSS of this process and of its largest finished child (the dbt runs)."""
    return {
        "self": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "largest_child": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
    }
