"""`schoolcx`: what a data engineer does by hand. Run `schoolcx <command> --help`."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import warnings
from pathlib import Path

from schoolcx.settings import apply_defaults, config_path


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def cmd_warehouse(args) -> int:
    from schoolcx.warehouse import embedded, migrate
    from schoolcx.warehouse.connect import embedded_data_dir, redacted, warehouse_url

    if args.action == "archive-year":
        return _archive_year(args)
    if args.action == "up":
        url = warehouse_url()
        applied = migrate(url)
        print(f"warehouse up: {redacted(url)} ({len(applied)} migrations applied now)")
    elif args.action == "down":
        if os.environ.get("WAREHOUSE_URL"):
            print("WAREHOUSE_URL is set: that server is not ours to stop")
            return 1
        stopped = embedded.stop(embedded_data_dir())
        print("embedded warehouse stopped" if stopped else "embedded warehouse was not running")
    else:
        # the password only when asked: terminal scrollback, CI logs and screen shares keep it
        url = warehouse_url(start=False)
        print(url if args.show_password else redacted(url))
    return 0


def _archive_year(args) -> int:
    from schoolcx import pipeline
    from schoolcx.publish.archive import ArchiveRefused, archive_year
    from schoolcx.publish.partitions import parse_school_year
    from schoolcx.warehouse import migrate

    if not args.year:
        print("archive-year needs the school year, e.g. 2024-25", file=sys.stderr)
        return 2
    try:
        year = parse_school_year(args.year)
        url = pipeline.resolve_warehouse_url()
        migrate(url)
        moved = archive_year(url, year, args.to)
    except (ValueError, ArchiveRefused) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    for part in moved:
        print(f"{part.table}: {part.partition} ({part.rows} rows) -> {part.archived_to}")
    if not moved:
        print(f"no fact holds school year {year - 1}-{year % 100:02d}: nothing archived")
    return 0


def cmd_config_check(args) -> int:
    from schoolcx.config import ConfigError, load_config

    try:
        cfg = load_config(args.file)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    n_sources = len(cfg.sources())
    kinds = sorted({s.type for _, s in cfg.sources()})
    print(
        f"{args.file}: ok — {len(cfg.districts)} districts, {n_sources} sources "
        f"({', '.join(kinds) or 'none'}), {len(cfg.consortiums)} consortiums"
    )
    return 0


def cmd_run(args) -> int:
    from schoolcx.runner import run_range

    if args.end < args.start:
        print("--end is before --start", file=sys.stderr)
        return 2
    if args.config:
        os.environ["SCHOOLCX_CONFIG"] = str(Path(args.config).resolve())
    if args.quiet:
        from schoolcx.runner import run_range_quiet as run_range
    ok = run_range(args.start, args.end, full_refresh=args.full_refresh, republish=args.republish)
    return 0 if ok else 1


def cmd_demo(args) -> int:
    from schoolcx.sandbox.demo.runner import run_demo

    return 0 if run_demo(days=args.days, verbose=args.verbose) else 1


def cmd_report(args) -> int:
    import psycopg

    from schoolcx import pipeline
    from schoolcx.config import load_config
    from schoolcx.report import print_summary
    from schoolcx.report.data import published_as_of

    cfg = load_config(args.config or config_path())
    url = pipeline.resolve_warehouse_url()
    print_summary(url, cfg)
    as_of = args.as_of
    if as_of is None:
        with psycopg.connect(url) as conn:
            as_of = published_as_of(conn)
    if as_of is None:
        print("no report written: nothing has been published yet")
        return 0
    path = pipeline.report(url, cfg, as_of)
    print(f"report written to {path}")
    if args.open:
        import webbrowser

        # a headless machine has no browser: say so instead of failing
        if not webbrowser.open(Path(path).resolve().as_uri()):
            print("no browser to open it here; open the path above")
    return 0


def cmd_docs(args) -> int:
    import threading

    from schoolcx import dbtdocs, pipeline
    from schoolcx.warehouse.connect import redacted

    url = pipeline.resolve_warehouse_url()
    print(f"generating dbt docs against {redacted(url)} ...", flush=True)
    site = dbtdocs.generate(url, Path(args.output) if args.output else None)
    print(
        f"dbt docs written to {site.folder}: {site.models} models, "
        f"{site.models_in_catalog} with their warehouse columns"
    )
    if site.not_built:
        print(
            f"  not built in this warehouse (no column types; run a night first): "
            f"{', '.join(site.not_built)}"
        )
    print(f"  offline, no server: {site.static_index}")
    if not args.serve:
        print(f"  or serve it: schoolcx docs --serve (index {site.index})")
        return 0
    server = dbtdocs.serve(site.folder, args.port)
    host, port = server.server_address[:2]
    print(f"serving http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
    try:
        threading.Event().wait()  # the server runs in its own thread
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return 0


def _until(text: str) -> dt.datetime:
    """An ISO date or datetime; without an offset it is UTC (a date: its 00:00 UTC)."""
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM[+00:00])"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _ops_config(args):
    """The deployment config and the warehouse (migrated) for the operator commands."""
    from schoolcx import pipeline
    from schoolcx.config import load_config
    from schoolcx.warehouse import migrate

    cfg = load_config(args.config or config_path())
    url = pipeline.resolve_warehouse_url()
    migrate(url)
    return cfg, url


def _known_source(cfg, name: str):
    try:
        return cfg.source(name)
    except KeyError:
        names = ", ".join(s.name for _, s in cfg.sources()) or "none"
        print(
            f"no source named {name!r} in config {cfg.name!r} (sources: {names})", file=sys.stderr
        )
        return None


def cmd_quarantine(args) -> int:
    from schoolcx import pipeline
    from schoolcx.quarantine import format_report, quarantine_report
    from schoolcx.warehouse import migrate

    url = pipeline.resolve_warehouse_url()
    migrate(url)
    print(format_report(quarantine_report(url, source=args.source, since=args.since)))
    return 0


def cmd_raw_show(args) -> int:
    import json

    import psycopg

    from schoolcx import pipeline
    from schoolcx.load import packing
    from schoolcx.warehouse import migrate

    url = pipeline.resolve_warehouse_url()
    migrate(url)
    with psycopg.connect(url) as conn:
        if args.raw_table not in packing.raw_tables(conn):
            print(f"no raw table {args.raw_table!r}", file=sys.stderr)
            return 2
        found = packing.versions(conn, args.raw_table, args.source_id, args.source_instance)
    if not found:
        print(f"raw.{args.raw_table} has no record {args.source_id!r}", file=sys.stderr)
        return 1
    print(json.dumps(found, indent=2, ensure_ascii=False))
    return 0


def cmd_raw_repack(args) -> int:
    import psycopg

    from schoolcx import pipeline
    from schoolcx.load import packing
    from schoolcx.warehouse import migrate

    url = pipeline.resolve_warehouse_url()
    migrate(url)
    with psycopg.connect(url) as conn:
        known = packing.raw_tables(conn)
        stale = packing.stale_tables(conn)
    if args.table and args.table not in known:
        print(f"no raw table {args.table!r}", file=sys.stderr)
        return 2
    tables = [args.table] if args.table else stale
    if not tables:
        print("every packed raw table is projected with the code's shape: nothing to repack")
        return 0
    for summary in packing.repack_stale(url, tables, progress=print):
        print(summary.line())
    return 0


def cmd_source_reset(args) -> int:
    from schoolcx.load.source_state import reset_source

    cfg, url = _ops_config(args)
    found = _known_source(cfg, args.name)
    if found is None:
        return 2
    _, source = found
    if args.from_date and args.from_date < source.start_date:
        print(
            f"--from {args.from_date} is before {source.name}'s configured start_date "
            f"{source.start_date}: records before it are outside the configured history",
            file=sys.stderr,
        )
        return 2
    result = reset_source(url, source.name, args.from_date)
    streams = ", ".join(result.streams_cleared) or "none saved"
    start = result.from_date or f"its start_date {source.start_date}"
    print(
        f"{source.name}: extract state cleared (streams: {streams}); the next extract starts "
        f"from {start}. Other sources are untouched; records already loaded are skipped."
    )
    return 0


def cmd_extract(args) -> int:
    from schoolcx.extract import extract_source
    from schoolcx.runner import ensure_hash_key

    cfg, url = _ops_config(args)
    found = _known_source(cfg, args.name)
    if found is None:
        return 2
    _, source = found
    ensure_hash_key()
    until = args.until or dt.datetime.now(dt.UTC)
    run_id = f"manual:{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ}"
    print(f"extracting {source.name} ({source.type}) up to {until.isoformat()} ...", flush=True)
    try:
        summary = extract_source(
            url, cfg, source.name, run_id=run_id, until=until, progress_every=1
        )
    except Exception as exc:  # the message names the source; the traceback is in -v logs
        logging.getLogger(__name__).debug("extract failed", exc_info=True)
        print(f"extract of {source.name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(summary.line())
    return 0


def cmd_intraday(args) -> int:
    from schoolcx.intraday.cycle import run_cycle
    from schoolcx.runner import ensure_hash_key

    cfg, url = _ops_config(args)
    ensure_hash_key()
    try:
        result = run_cycle(url, cfg, args.at, force=args.force)
    except Exception as exc:  # recorded in ops.intraday_cycles; the traceback is in -v logs
        logging.getLogger(__name__).debug("intraday cycle failed", exc_info=True)
        print(f"intraday cycle failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(result.line())
    return 1 if result.status == "blocked" else 0


def _hub(args):
    from schoolcx import pipeline
    from schoolcx.pooling.hub_config import load_hub_config
    from schoolcx.warehouse import migrate

    hub = load_hub_config(args.hub)
    url = pipeline.resolve_warehouse_url()
    migrate(url)
    return hub, url


def _pool_error(exc: Exception) -> int:
    logging.getLogger(__name__).debug("pool command failed", exc_info=True)
    print(f"pool: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 2


def cmd_pool_export(args) -> int:
    from schoolcx.pooling.export import ExportError, export_all
    from schoolcx.pooling.manifest import PoolingKeyMissing

    cfg, url = _ops_config(args)
    try:
        results = export_all(url, cfg, args.to)
    except (ExportError, PoolingKeyMissing) as exc:
        return _pool_error(exc)
    for r in results:
        print(f"exported {r.line()} -> {r.folder}")
    rows = sum(sum(r.row_counts.values()) for r in results)
    print(f"{len(results)} extracts written ({rows} rows) to {args.to}")
    return 0


def cmd_pool_import(args) -> int:
    from schoolcx.pooling.hub_config import HubConfigError
    from schoolcx.pooling.importer import import_inbox

    try:
        hub, url = _hub(args)
    except HubConfigError as exc:
        return _pool_error(exc)
    result = import_inbox(url, hub, source=args.source)
    for o in result.outcomes:
        print(o.line())
    for m in result.missing:
        print(f"MISSING {m.district_id}: {m.reason}")
    print(f"{hub.consortium_id}: {result.summary()}")
    return 1 if result.count("rejected") else 0


def cmd_pool_benchmark(args) -> int:
    # dbt over pool.*, the gate, write-audit-publish into the hub's marts
    from schoolcx.pooling.hub_build import NothingPooled, build_and_publish
    from schoolcx.pooling.hub_config import HubConfigError

    try:
        hub, url = _hub(args)
    except HubConfigError as exc:
        return _pool_error(exc)
    try:
        counts = build_and_publish(url, hub)
    except NothingPooled as exc:
        return _pool_error(exc)
    print(", ".join(f"{v} {k}" for k, v in counts.items()))
    return 0


def cmd_pool_return(args) -> int:
    from schoolcx.pooling.hub_config import HubConfigError
    from schoolcx.pooling.manifest import PoolingKeyMissing
    from schoolcx.pooling.returns import write_returns

    try:
        hub, url = _hub(args)
        result = write_returns(url, hub, dest=args.to)
    except (HubConfigError, PoolingKeyMissing, RuntimeError) as exc:
        return _pool_error(exc)
    for district_id, folder, counts in result.written:
        print(f"returned {district_id}: {sum(counts.values())} rows -> {folder}")
    for district_id in result.without_rows:
        print(f"NO ROWS {district_id}: nothing benchmarked for it (did it send an extract?)")
    print(f"{hub.consortium_id}: {result.summary()}")
    return 0


def cmd_pool_receive(args) -> int:
    from schoolcx.pooling.returns import receive_returns

    cfg, url = _ops_config(args)
    result = receive_returns(url, cfg, args.source)
    for o in result.outcomes:
        print(o.line())
    print(result.summary())
    return 1 if result.count("rejected") else 0


def cmd_stack(args) -> int:
    from schoolcx.stack import lifecycle

    if args.action == "up":
        try:
            lifecycle.up(
                executor=args.executor,
                workers=args.workers,
                concurrency=args.concurrency,
                config=Path(args.config) if args.config else None,
            )
        except (RuntimeError, TimeoutError) as exc:
            print(f"stack up failed: {exc} (logs: {lifecycle.stack_dir() / 'logs'})")
            return 1
        return 0
    if args.action == "down":
        lifecycle.down()
        return 0
    if args.action == "run":
        return _stack_run(lifecycle.load_state(), args.date, args.timeout)
    return 0 if lifecycle.status() else 1


def _stack_run(state, day: dt.date | None, timeout: float) -> int:
    """Trigger night `day` on the running stack through the REST API and wait for it."""
    from schoolcx.stack import api

    if state is None or day is None:
        print("stack run needs a running stack (`schoolcx stack up`) and --date")
        return 2
    with api.client(state) as client:
        api.wait_for_dag(client)
        run_id = api.trigger_night(client, day)
        print(f"triggered {run_id} (night {day}); waiting up to {timeout:.0f}s", flush=True)
        final = api.wait_for_run(client, run_id, timeout)
    print(f"{run_id}: {final} (task logs under {state.airflow_home}/logs)")
    return 0 if final == "success" else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="schoolcx", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    w = sub.add_parser(
        "warehouse",
        help="start, stop or locate the warehouse",
        description="Without WAREHOUSE_URL, manages the embedded PostgreSQL "
        "under .local/warehouse (SCHOOLCX_HOME).",
    )
    w.add_argument(
        "action",
        choices=["up", "down", "url", "archive-year"],
        help="up: start (if embedded) and migrate; down: stop; url: print its URL; "
        "archive-year YEAR: detach a past school year's partitions of the facts (marts, build)",
    )
    w.add_argument("year", nargs="?", help="archive-year: the school year, e.g. 2024-25")
    w.add_argument(
        "--to",
        type=Path,
        metavar="DIR",
        help="archive-year: export each partition to DIR/<schema>.<partition>.csv.gz and drop "
        "it (default: keep it in the warehouse's `archive` schema)",
    )
    w.add_argument(
        "--show-password",
        action="store_true",
        help="url: print the password too (redacted by default)",
    )
    w.set_defaults(func=cmd_warehouse)

    st = sub.add_parser(
        "stack",
        help="run Airflow for real on this machine: scheduler, api-server, workers",
        description="up: Redis (celery), the metadata database `airflow` in the embedded "
        "PostgreSQL, then scheduler, dag-processor, api-server, triggerer and the Celery "
        "workers as background processes, configured as docker-compose.yml configures Airflow; "
        "logs in .local/stack/logs (SCHOOLCX_HOME). down: stop them. status: list them. "
        "run --date D: trigger night D through the REST API and wait for it.",
    )
    st.add_argument("action", choices=["up", "down", "status", "run"])
    st.add_argument("--executor", choices=["celery", "local"], default="celery")
    st.add_argument("--workers", type=int, default=2, help="Celery workers (default 2)")
    st.add_argument("--concurrency", type=int, default=2, help="task slots per worker")
    st.add_argument("--config", help="deployment config (default: $SCHOOLCX_CONFIG)")
    st.add_argument("--date", type=_date, help="run: the night to trigger (YYYY-MM-DD)")
    st.add_argument("--timeout", type=float, default=3600, help="run: seconds to wait")
    st.set_defaults(func=cmd_stack)

    c = sub.add_parser("config", help="validate a deployment config")
    csub = c.add_subparsers(dest="config_command", required=True)
    check = csub.add_parser("check", help="validate FILE; errors name the district and field")
    check.add_argument("file", type=Path)
    check.set_defaults(func=cmd_config_check)

    r = sub.add_parser(
        "run",
        help="run the nightly DAG through Airflow for a range of days",
        description="Runs schoolcx_nightly once per day from --start to --end "
        "(inclusive) with `dag.test()`: each run covers [D 08:00 UTC, D+1 08:00 "
        "UTC) and reports as of the last local date fully ended in every district's "
        "time zone (D, or D-1 with a district in Hawaii or in Alaska in winter). "
        "Idempotent: rerunning a day changes nothing. A night older than the "
        "published marts loads and builds but does not publish (see --republish).",
    )
    r.add_argument("--start", type=_date, required=True)
    r.add_argument("--end", type=_date, required=True)
    r.add_argument(
        "--config", help="deployment config (default: $SCHOOLCX_CONFIG or config/demo.yml)"
    )
    r.add_argument(
        "--full-refresh", action="store_true", help="rebuild incremental dbt models from scratch"
    )
    r.add_argument(
        "--republish",
        action="store_true",
        help="publish even when newer marts are published (moves the marts back to these "
        "nights; by default an older night never replaces newer marts)",
    )
    r.add_argument(
        "--quiet",
        action="store_true",
        help="logs to .local/logs/run-*.log; the terminal shows progress per night and stage, "
        "errors (with the log's path) and the summary",
    )
    r.set_defaults(func=cmd_run)

    d = sub.add_parser(
        "demo",
        help="generate demo data, serve it through the vendor "
        "emulators and run the pipeline end to end",
    )
    d.add_argument(
        "--days",
        type=int,
        default=2,
        help="nightly runs ending on the demo world's as-of date (default 2)",
    )
    d.set_defaults(func=cmd_demo)

    rep = sub.add_parser(
        "report",
        help="write the district report pages (and print the headline figures) from the "
        "published marts",
    )
    rep.add_argument("--config")
    rep.add_argument(
        "--as-of", type=_date, help="the as-of date to report (default: the published marts')"
    )
    rep.add_argument("--open", action="store_true", help="open the index in the default browser")
    rep.set_defaults(func=cmd_report)

    docs = sub.add_parser(
        "docs",
        help="generate dbt's documentation site (models, columns, contracts, exposures)",
        description="Runs `dbt docs generate` against the warehouse and writes the site to "
        ".local/docs/dbt/ (static_index.html opens offline; index.html needs --serve). "
        "Metric definitions: docs/metrics.md.",
    )
    docs.add_argument("--output", help="folder for the site (default .local/docs/dbt)")
    docs.add_argument("--serve", action="store_true", help="serve it on localhost until Ctrl-C")
    docs.add_argument("--port", type=int, default=0, help="--serve port (default: a free one)")
    docs.set_defaults(func=cmd_docs)

    q = sub.add_parser(
        "quarantine",
        help="what was quarantined, where and why, with counts per reason",
        description="Records the loader refused (quarantine.records) and records the "
        "transform rejected (int.int_interactions_rejected, int.int_ratings_normalised "
        "with a reject_reason), grouped by source and reason.",
    )
    q.add_argument("--source", help="only this source (its name in the config)")
    q.add_argument("--since", type=_date, help="only what was seen on or after this UTC date")
    q.set_defaults(func=cmd_quarantine)

    raw = sub.add_parser("raw", help="read or repack landed raw records")
    rsub = raw.add_subparsers(dest="raw_command", required=True)
    show = rsub.add_parser(
        "show",
        help="every landed version of one record, whole, as JSON",
        description="raw.<table>.payload keeps only what staging reads; the whole vendor "
        "record is compressed in payload_z. This prints every landed version's whole record.",
    )
    show.add_argument("raw_table", help="e.g. zendesk_tickets")
    show.add_argument("source_id")
    show.add_argument("--source-instance", help="only this source instance")
    show.set_defaults(func=cmd_raw_show)
    repack = rsub.add_parser(
        "repack",
        help="rewrite raw payloads from the whole records after a shape change",
        description="Re-projects payload from payload_z with the code's shape "
        "(schoolcx.load.payload_shapes) for every table whose rows were projected with "
        "another shape, or for --table. The nightly prepare does this by itself.",
    )
    repack.add_argument("--table", help="this raw table (repacked even if its shape is current)")
    repack.set_defaults(func=cmd_raw_repack)

    src = sub.add_parser("source", help="operate on one configured source")
    ssub = src.add_subparsers(dest="source_command", required=True)
    reset = ssub.add_parser(
        "reset",
        help="re-extract one source from a date, without touching the others",
        description="Clears NAME's saved extract state; its next extract (nightly or "
        "`schoolcx extract NAME`) reads from --from (default: its configured start_date). "
        "Loading is idempotent, so records already loaded are skipped, not doubled.",
    )
    reset.add_argument("name")
    reset.add_argument("--from", dest="from_date", type=_date, help="first date to re-read")
    reset.add_argument("--config")
    reset.set_defaults(func=cmd_source_reset)

    e = sub.add_parser(
        "extract",
        help="run one source's extract now, with progress and a summary",
        description="Extracts NAME incrementally (from its saved state) up to --until "
        "(default: now) into raw, as the nightly extract task does.",
    )
    e.add_argument("name")
    e.add_argument("--until", type=_until, help="upper bound (ISO date or time; default now)")
    e.add_argument("--config")
    e.set_defaults(func=cmd_extract)

    i = sub.add_parser(
        "intraday",
        help="run one intraday cycle: today so far into marts.today_status",
        description="Extracts every source (from its saved state), builds today_status in the "
        "intraday schemas, checks it and publishes it alone. Skips outside every district's "
        "service hours (unless --force) and while the nightly runs.",
    )
    i.add_argument("--config", help="deployment config (default: $SCHOOLCX_CONFIG)")
    i.add_argument("--at", type=_until, help="the cycle's instant (default now; a replay)")
    i.add_argument("--force", action="store_true", help="run outside service hours too")
    i.set_defaults(func=cmd_intraday)

    pool = sub.add_parser(
        "pool",
        help="consortium pooling: export aggregates, import them at a hub, return benchmarks",
        description="District side: export (after publish) and receive. Hub side: import, "
        "benchmark, return. Keys: connection schoolcx_pool_<district_id> (its password).",
    )
    psub = pool.add_subparsers(dest="pool_command", required=True)
    pe = psub.add_parser("export", help="write each district's signed extract for its consortiums")
    pe.add_argument("--config", help="deployment config (default: $SCHOOLCX_CONFIG)")
    pe.add_argument("--to", required=True, help="folder or fsspec URL (s3://bucket/prefix)")
    pe.set_defaults(func=cmd_pool_export)
    pi = psub.add_parser(
        "import", help="hub: verify and pool every extract in the inbox; list missing districts"
    )
    pi.add_argument("--hub", required=True, help="hub config (YAML)")
    pi.add_argument("--from", dest="source", help="folder or URL (default: the hub's inbox)")
    pi.set_defaults(func=cmd_pool_import)
    pb = psub.add_parser("benchmark", help="hub: build, gate and publish the pooled benchmarks")
    pb.add_argument("--hub", required=True, help="hub config (YAML)")
    pb.set_defaults(func=cmd_pool_benchmark)
    pr = psub.add_parser("return", help="hub: write each district its own benchmark rows")
    pr.add_argument("--hub", required=True, help="hub config (YAML)")
    pr.add_argument("--to", help="folder or URL (default: the hub's outbox)")
    pr.set_defaults(func=cmd_pool_return)
    pv = psub.add_parser("receive", help="district: load the hub's returns into marts")
    pv.add_argument("--config", help="deployment config (default: $SCHOOLCX_CONFIG)")
    pv.add_argument("--from", dest="source", required=True, help="the hub's outbox (URL)")
    pv.set_defaults(func=cmd_pool_receive)
    return p


def main(argv: list[str] | None = None) -> int:
    apply_defaults()
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        logging.getLogger("pgserver").setLevel(logging.WARNING)  # logs every pg_ctl call
        # platformdirs warns at exit on a machine without a login session (no
        # XDG_RUNTIME_DIR); it falls back to /tmp by itself, and the warning is noise
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
