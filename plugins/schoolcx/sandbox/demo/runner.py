"""`schoolcx demo`: the whole pipeline on generated data, through Airflow, ending in the
published marts and a summary of them.

The console stays quiet: Airflow, cosmos, dbt and GX write to .local/logs/demo-*.log (named in
the output); the terminal shows a progress bar per night and stage, errors in full with the
log's path, the summary and where the report is (schoolcx.console)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from pathlib import Path

from schoolcx.paths import PROJECT_ROOT, local_dir

DEMO_CONFIG = PROJECT_ROOT / "config" / "demo.yml"


def run_demo(days: int = 2, verbose: bool = False) -> bool:
    """Run the demo; quiet unless `verbose` (then every log line prints, as before)."""
    from schoolcx.console import quiet_run

    if verbose:
        from rich.console import Console

        return _run_demo(Console(highlight=False), days, None)
    return quiet_run("demo", lambda console, log: _run_demo(console, days, log))


def _run_demo(console, days: int, log) -> bool:
    from schoolcx import pipeline
    from schoolcx.config import load_config
    from schoolcx.console import NightProgress
    from schoolcx.orchestration import DBT_TASKS_ENV
    from schoolcx.publish.checksum import combine, marts_checksum
    from schoolcx.report import print_summary
    from schoolcx.runner import published_nights, run_range
    from schoolcx.sandbox.demo.generator import demo_spec, generate_world
    from schoolcx.sandbox.demo.stack import DemoStack

    say = console.print
    started = time.monotonic()
    say("generating the demo world ...")
    world = generate_world(demo_spec())
    cfg = load_config(DEMO_CONFIG)
    if world.config_yaml.strip() != DEMO_CONFIG.read_text().strip():
        raise RuntimeError(
            f"{DEMO_CONFIG} is out of date: run "
            "`python -m schoolcx.sandbox.demo.generator --write-config`"
        )
    say(
        f"  {len(cfg.districts)} districts, {len(world.interactions):,} interactions, "
        f"{len(world.survey_responses):,} survey responses, as of {world.as_of}"
    )
    os.environ["SCHOOLCX_CONFIG"] = str(DEMO_CONFIG)
    # The demo's data is tiny: one `dbt build` task beats ~250 per-model tasks' start-up
    # (orchestration.DBT_TASKS_ENV; the nightly DAG a deployment runs keeps per-model tasks).
    os.environ.setdefault(DBT_TASKS_ENV, "build")
    url = pipeline.resolve_warehouse_url()
    first = world.as_of - dt.timedelta(days=days - 1)
    nights = [first + dt.timedelta(days=i) for i in range(days)]
    # The demo world is fixed: a night already published has nothing new. Rerunning it would
    # only redo the same work (and, before publishing guarded as-of, showed the older night).
    done = published_nights(url, nights)
    for night, as_of in done.items():
        say(f"  night {night}: already published (as of {as_of}), skipped")
    todo = [n for n in nights if n not in done]
    before = combine(marts_checksum(url))
    ok = True
    progress = None
    if todo:
        say("starting the vendor emulators, dovecot and Airflow (the first run sets them up) ...")
        # The emulated Freshdesk budget (5,000 calls a minute) makes the first night's read of
        # every conversation wait out the minute, about 4 of the demo's minutes; pacing itself
        # is tested against a small budget (tests/test_freshdesk.py), not shown off here.
        with DemoStack(world, local_dir() / "demo", freshdesk_rate_limit=100_000) as stack:
            os.environ.update(stack.env)
            if log is None:  # verbose: every log line on the terminal, as `schoolcx run`
                ok = run_range(todo[0], todo[-1], days=todo)
            else:
                with NightProgress(console, log, url, sources=len(cfg.sources())) as progress:
                    ok = run_range(
                        todo[0], todo[-1], days=todo, progress=progress, summary_file=console.file
                    )
    # Idempotence, shown: the published marts' content before and after (publish.checksum).
    unchanged = combine(marts_checksum(url)) == before
    if not todo:
        say("nothing new; marts unchanged (checksums equal)")
    elif ok:
        say(
            "marts unchanged (checksums equal)"
            if unchanged
            else "marts published (checksums changed: new nights)"
        )
    if ok:
        _pooling_round(say, url, cfg, world.as_of)
    with contextlib.redirect_stdout(console.file):  # the summary's print()s to the terminal
        print_summary(url, cfg)
    # nothing ran: the report written when the last night was published still stands
    report = Path(
        pipeline.report(url, cfg, world.as_of)
        if todo and ok
        else local_dir() / "reports" / world.as_of.isoformat() / "index.html"
    )
    if progress and progress.timings:
        say("time per night and stage:")
        for timing in progress.timings:
            say(f"  {timing.line()}")
    say(f"report:    {report}")
    say("           open it: schoolcx report --open")
    # GX Data Docs load their styles from CDNs; the gate page beside the report does not
    say(f"gate:      {report.parent / 'gate.html'}")
    if log:
        say(f"logs:      {log}")
    say(f"demo {'finished' if ok else '[red]FAILED[/red]'} in {time.monotonic() - started:.0f}s")
    return ok


def _pooling_round(say, url: str, cfg, as_of: dt.date) -> None:
    """Issue 15's round on the demo: two deployments export, a hub pools, benchmarks,
    publishes and returns (sandbox.demo.pooling_round). Skipped when every pooled district
    already holds the hub's figures for this as-of (a second demo)."""
    from schoolcx.sandbox.demo.pooling_round import (
        already_received,
        pooled_consortium,
        run_pooling_round,
        split_deployments,
    )

    consortium = pooled_consortium(cfg)
    members = [
        d.district_id for dep in split_deployments(cfg, consortium).values() for d in dep.districts
    ]
    if already_received(url, members, as_of):
        say(f"pooling round: the {consortium} hub's figures for {as_of} are already received")
        return
    say(f"pooling round: {consortium} districts export, the hub benchmarks and returns ...")
    started = time.monotonic()
    result = run_pooling_round(url, cfg, as_of, local_dir() / "demo" / "pooling")
    for line in result.lines():
        say(f"  {line}")
    say(f"  ({time.monotonic() - started:.0f}s)")
