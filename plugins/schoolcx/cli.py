"""`schoolcx`: what a data engineer does by hand. Run `schoolcx <command> --help`."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
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
    from schoolcx import pipeline
    from schoolcx.config import load_config
    from schoolcx.report import print_summary

    cfg = load_config(args.config or config_path())
    url = pipeline.resolve_warehouse_url()
    path = pipeline.report(url, cfg, args.as_of) if args.as_of else None
    print_summary(url, cfg)
    if path:
        print(f"report written to {path}")
    if args.open:
        return _open_report(path)
    return 0


def _open_report(path) -> int:
    """Open the report just written, else the newest under .local/reports/, in a browser."""
    import webbrowser

    from schoolcx.paths import local_dir

    if path is None:
        written = sorted((local_dir() / "reports").glob("*/index.html"))
        if not written:
            print("no report written yet: run `schoolcx demo` or `schoolcx report --as-of D`")
            return 1
        path = written[-1]
    url = Path(path).resolve().as_uri()
    if not webbrowser.open(url):
        print(f"no browser found here; open {url}")
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
        choices=["up", "down", "url"],
        help="up: start (if embedded) and migrate; down: stop; url: print its URL",
    )
    w.add_argument(
        "--show-password",
        action="store_true",
        help="url: print the password too (redacted by default)",
    )
    w.set_defaults(func=cmd_warehouse)

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

    rep = sub.add_parser("report", help="print the headline figures from the published marts")
    rep.add_argument("--config")
    rep.add_argument("--as-of", type=_date, help="also write the district report as of this date")
    rep.add_argument(
        "--open",
        action="store_true",
        help="open the report in a browser (the one --as-of writes, else the newest written)",
    )
    rep.set_defaults(func=cmd_report)

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
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
