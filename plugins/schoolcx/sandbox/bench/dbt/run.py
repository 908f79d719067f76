"""One scale end to end (fresh database, synthesis, full build, business time, one night),
and the command line."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

import psycopg

from schoolcx.config import DeploymentConfig
from schoolcx.sandbox.bench.dbt.disk import DiskPeak
from schoolcx.sandbox.bench.dbt.intraday import bench_cycle, cycle_instant
from schoolcx.sandbox.bench.dbt.landing import RAW_TABLES
from schoolcx.sandbox.bench.dbt.report import _model_table, _run_summary, _watched, report
from schoolcx.sandbox.bench.dbt.scales import SCALES, Scale, check_disk, deployment_config
from schoolcx.sandbox.bench.dbt.synthesis import Synthesiser, planned_tickets, vacuum_analyze
from schoolcx.sandbox.bench.dbt.timing import (
    business_time_bench,
    peak_rss_mb,
    project_fingerprint,
    run_dbt,
    server_facts,
    sizes,
    timed_counts,
)

BENCH_HASH_KEY = "bench-only-hash-key"  # synthetic people only; used when none is set


# count(*) of each, timed: the staging tables' scan cost, and the child events view's (a view
# over raw audits since issue 19: its count expands every audit, nothing is stored)
STAGING_TABLES = (
    "stg_zendesk__tickets",
    "stg_zendesk__ticket_child_events",
    "stg_zendesk__users",
    "stg_zendesk__satisfaction_ratings",
)


def fresh_database(server_url: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = server_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    admin, name = url.rsplit("/", 1)
    with psycopg.connect(admin + "/postgres", autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


# what dbt builds on its own (the migrations create the other schemas, with their grants)
DBT_SCHEMAS = ("stg", "int")


def drop_built(url: str) -> None:
    """Drop the schemas dbt built in a kept bench database, so a resumed run's full build starts
    from raw without a second copy of each staging table beside the first (build and marts are
    the migrations': --full-refresh replaces what dbt put there)."""
    with psycopg.connect(url, autocommit=True) as conn:
        for schema in DBT_SCHEMAS:
            conn.execute(f"drop schema if exists {schema} cascade")


def prepare(url: str, scale: Scale) -> DeploymentConfig:
    """Migrate the database and sync the scale's config into ref.*."""
    from schoolcx.refsync import sync_config
    from schoolcx.warehouse import migrate

    cfg = deployment_config(scale)
    migrate(url)
    sync_config(url, cfg, today=scale.night_day)
    return cfg


def bench_scale(
    scale: Scale,
    server_url: str,
    workdir: Path,
    result: dict,
    keep: bool = False,
    pg_options: str | None = None,
    out=sys.stdout,
    data_dir: Path | None = None,
    resume: str | None = None,
) -> dict:
    """Measure one scale end to end into `result` (filled as it goes, so a failure keeps what
    was measured). `resume` names a database an earlier run of this scale landed and kept
    (`--keep`, or a run stopped after its landing): its landing is reused, the rest runs."""
    say = lambda msg: print(f"[{scale.name}] {msg}", file=out, flush=True)  # noqa: E731
    t_all = time.monotonic()
    no_intraday = check_disk(scale, data_dir, landed=bool(resume))
    if no_intraday:
        say(f"intraday cycle {no_intraday}")
    if resume:
        url = server_url.rsplit("/", 1)[0] + "/" + resume
        drop_built(url)
        say(
            f"resuming on {resume}: its landing kept, what dbt built dropped "
            f"(schemas {', '.join(DBT_SCHEMAS)})"
        )
    else:
        url = fresh_database(server_url, f"bench_dbt_{scale.name.lower()}")
    say(
        f"database {url.rsplit('/', 1)[1]}; {len(scale.districts)} districts, "
        f"{scale.students:,} students, {scale.first_day} .. {scale.last_day}"
    )
    result.update(
        districts=len(scale.districts),
        students=scale.students,
        first_day=str(scale.first_day),
        last_day=str(scale.last_day),
        night_day=str(scale.night_day),
        server=server_facts(url),
        dbt_threads=int(os.environ.get("SCHOOLCX_DBT_THREADS", "4")),
        pg_options=pg_options,
    )
    target = {kind: workdir / f"target-{scale.name}-{kind}" for kind in ("full", "incremental")}
    disk = DiskPeak(url).start()
    try:
        disk.phase = "synthesis and landing"
        cfg = prepare(url, scale)
        gen = Synthesiser(url, scale, cfg, out)
        stages = {}
        if not resume:
            started = time.monotonic()
            planned = gen.plan()
            stages["plan"] = time.monotonic() - started
            say(f"planned {planned:,} tickets in {stages['plan']:.0f}s")
            started = time.monotonic()
            landed = gen.land(night=False)
            stages["land_history"] = time.monotonic() - started
        started = time.monotonic()
        vacuum_analyze(url)
        stages["vacuum_analyze"] = time.monotonic() - started
        interactions = planned_tickets(url, gen.cut_history)
        result["scan_floor"] = timed_counts(url, [f"raw.{t}" for t in RAW_TABLES])
        if resume:  # the kept landing's rows, as the scan floor counted them
            landed = {t: result["scan_floor"][f"raw.{t}"]["rows"] for t in RAW_TABLES}
        result["generation"] = {
            "seconds": round(sum(stages.values()), 1),
            "stages": {k: round(v, 1) for k, v in stages.items()},
        }
        if resume:
            result["generation"]["resumed_from"] = resume
        else:
            result["generation"]["raw_rows_per_s"] = round(
                sum(landed.values()) / stages["land_history"]
            )
        result["raw_rows"] = landed
        result["interactions"] = interactions
        say(
            f"{'kept' if resume else 'landed'} {sum(landed.values()):,} raw rows "
            f"({interactions:,} tickets) in {result['generation']['seconds']:.0f}s"
        )

        say("dbt build --full-refresh")
        disk.phase = "full build"
        full = run_dbt(
            url,
            cfg,
            scale.last_day,
            full_refresh=True,
            target_dir=target["full"],
            pg_options=pg_options,
        )
        say(f"full build {full.seconds:.1f}s {full.statuses}")
        result["full"] = _run_summary(full, interactions)
        if not full.ok:
            raise RuntimeError("full build failed:\n" + "\n".join(full.errors))
        result["size_after_full"] = sizes(url)
        if no_intraday:
            result["intraday"] = {"skipped": no_intraday}
        else:
            say("intraday: first cycle (builds the intraday schemas)")
            disk.phase = "intraday first cycle"
            result["intraday"] = {"first": bench_cycle(url, cfg, cycle_instant(scale.last_day))}
            say(f"intraday first cycle {result['intraday']['first']['seconds']:.1f}s")

        say("business-time microbenchmark")
        result["business_time"] = business_time_bench(url, target["full"])
        say(
            f"business minutes of {result['business_time']['pairs']:,} pairs in "
            f"{result['business_time']['seconds_best']:.2f}s"
        )

        started = time.monotonic()
        disk.phase = "night landing"
        night = gen.land(night=True)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("checkpoint")
        result["night_landing"] = {"rows": night, "seconds": round(time.monotonic() - started, 1)}
        result["night_new_tickets"] = planned_tickets(url, gen.cut_night) - interactions
        say(
            f"night {scale.night_day}: {sum(night.values()):,} raw rows "
            f"({result['night_new_tickets']:,} new tickets)"
        )
        if not no_intraday:
            disk.phase = "intraday cycles"
            result["intraday"]["cycle"] = bench_cycle(url, cfg, cycle_instant(scale.night_day))
            say(f"intraday cycle {result['intraday']['cycle']['seconds']:.1f}s")
            result["intraday"]["next"] = bench_cycle(
                url, cfg, cycle_instant(scale.night_day) + dt.timedelta(minutes=15)
            )
            say(f"intraday next cycle {result['intraday']['next']['seconds']:.1f}s")
        say("dbt build (incremental)")
        disk.phase = "night build"
        incr = run_dbt(
            url,
            cfg,
            scale.night_day,
            full_refresh=False,
            target_dir=target["incremental"],
            pg_options=pg_options,
        )
        say(f"incremental build {incr.seconds:.1f}s {incr.statuses}")
        result["incremental"] = _run_summary(incr, interactions)
        result["models"] = _model_table(full, incr)
        result["service_health"] = _watched(full, incr)
        if full.project != incr.project or incr.project.get("changed_during_run"):
            result["warning"] = "the dbt project changed between or during the runs"
        if not incr.ok:
            raise RuntimeError("incremental build failed:\n" + "\n".join(incr.errors))
        result["incremental_over_full"] = round(incr.seconds / full.seconds, 3)
        result["staging_scan"] = timed_counts(url, [f"stg.{v}" for v in STAGING_TABLES])
        gen.drop()
        result["size_after_night"] = sizes(url)
    finally:
        disk.stop()
        result["disk_peak"] = disk.result()
        result["peak_rss_mb"] = peak_rss_mb()
        result["total_seconds"] = round(time.monotonic() - t_all, 1)
        if not keep:
            drop_database(url)
    return result


def main(argv: list[str] | None = None) -> int:
    from schoolcx.paths import local_dir
    from schoolcx.settings import apply_defaults
    from schoolcx.warehouse import warehouse_url

    parser = argparse.ArgumentParser(
        prog="python -m schoolcx.sandbox.bench.dbt",
        description=sys.modules[__package__].__doc__.split("\n")[0],
    )
    parser.add_argument(
        "--scale",
        default="S",
        help="S, M or S,M; NAME:N runs that scale's last N school weeks only (M:12)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON results (default SCHOOLCX_HOME/bench/dbt.json)"
    )
    parser.add_argument(
        "--weeks",
        type=int,
        default=None,
        help="reduce each scale to its last N school weeks (same districts and daily volume)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    parser.add_argument(
        "--resume",
        metavar="DATABASE",
        default=None,
        help="one scale only: reuse the landing an earlier run of it kept in DATABASE (--keep,"
        " or stopped after landing) and run the rest; the landing's figures are not measured",
    )
    parser.add_argument(
        "--pg-options",
        default=None,
        help='PGOPTIONS for the dbt runs only: diagnostic variants ("-c enable_mergejoin=off")',
    )
    args = parser.parse_args(argv)
    wanted = []  # (scale name, weeks or None)
    for item in (s.strip().upper() for s in args.scale.split(",") if s.strip()):
        name, _, weeks = item.partition(":")
        if name not in SCALES or (weeks and not weeks.isdigit()):
            parser.error(f"unknown scale {item!r}; choose from {sorted(SCALES)}, as NAME or NAME:N")
        wanted.append((name, int(weeks) if weeks else args.weeks))
    if args.resume and len(wanted) != 1:
        parser.error("--resume takes one scale: the one its database was landed for")
    apply_defaults()
    os.environ.setdefault("SCHOOLCX_HASH_KEY", BENCH_HASH_KEY)
    out_path = args.out or local_dir() / "bench" / "dbt.json"
    workdir = local_dir() / "bench"
    workdir.mkdir(parents=True, exist_ok=True)
    server = warehouse_url()  # WAREHOUSE_URL, else the embedded server under SCHOOLCX_HOME
    data_dir = None if os.environ.get("WAREHOUSE_URL") else local_dir()
    results = {
        "cpus": os.cpu_count(),
        "started": dt.datetime.now(dt.UTC).isoformat(),
        "project": project_fingerprint(),
        "scales": {},
    }
    failed = False
    for name, weeks in wanted:
        scale = SCALES[name]
        if weeks:
            first = scale.last_day - dt.timedelta(days=7 * weeks - 4)  # a Monday
            scale = replace(scale, name=f"{name}-{weeks}w", first_day=first)
        result = results["scales"][scale.name] = {}
        try:
            bench_scale(
                scale,
                server,
                workdir,
                result,
                args.keep,
                args.pg_options,
                data_dir=data_dir,
                resume=args.resume,
            )
        except Exception as exc:  # keep what was measured; report, go on to the next scale
            failed = True
            result["error"] = f"{type(exc).__name__}: {exc}"[:4000]
            print(f"[{scale.name}] FAILED: {result['error']}", file=sys.stderr, flush=True)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(results, indent=2, default=str))
    report(results)
    print(f"\nresults: {out_path}")
    return 1 if failed else 0
