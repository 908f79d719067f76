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
    from schoolcx.warehouse.connect import embedded_data_dir, warehouse_url

    if args.action == "up":
        url = warehouse_url()
        applied = migrate(url)
        print(f"warehouse up: {_redact(url)} ({len(applied)} migrations applied now)")
    elif args.action == "down":
        if os.environ.get("WAREHOUSE_URL"):
            print("WAREHOUSE_URL is set: that server is not ours to stop")
            return 1
        stopped = embedded.stop(embedded_data_dir())
        print("embedded warehouse stopped" if stopped else "embedded warehouse was not running")
    else:
        print(warehouse_url(start=False))
    return 0


def _redact(url: str) -> str:
    import re

    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


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
    ok = run_range(args.start, args.end, full_refresh=args.full_refresh, republish=args.republish)
    return 0 if ok else 1


def cmd_demo(args) -> int:
    from schoolcx.sandbox.demo.runner import run_demo

    return 0 if run_demo(days=args.days) else 1


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
    rep.set_defaults(func=cmd_report)
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
