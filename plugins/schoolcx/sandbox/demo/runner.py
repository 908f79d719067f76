"""`schoolcx demo`: the whole pipeline on generated data, through Airflow, ending in the
published marts and a summary of them."""

from __future__ import annotations

import datetime as dt
import os
import time

from schoolcx.paths import PROJECT_ROOT, local_dir

DEMO_CONFIG = PROJECT_ROOT / "config" / "demo.yml"


def run_demo(days: int = 2) -> bool:
    from schoolcx import pipeline
    from schoolcx.config import load_config
    from schoolcx.report import print_summary
    from schoolcx.runner import published_nights, run_range
    from schoolcx.sandbox.demo.generator import demo_spec, generate_world
    from schoolcx.sandbox.demo.stack import DemoStack

    started = time.monotonic()
    print("generating the demo world ...", flush=True)
    world = generate_world(demo_spec())
    cfg = load_config(DEMO_CONFIG)
    if world.config_yaml.strip() != DEMO_CONFIG.read_text().strip():
        raise RuntimeError(
            f"{DEMO_CONFIG} is out of date: run "
            "`python -m schoolcx.sandbox.demo.generator --write-config`"
        )
    n_surveys = len(world.survey_responses)
    print(
        f"  {len(cfg.districts)} districts, {len(world.interactions)} interactions, "
        f"{n_surveys} survey responses, as of {world.as_of}",
        flush=True,
    )
    os.environ["SCHOOLCX_CONFIG"] = str(DEMO_CONFIG)
    url = pipeline.resolve_warehouse_url()
    first = world.as_of - dt.timedelta(days=days - 1)
    nights = [first + dt.timedelta(days=i) for i in range(days)]
    # The demo world is fixed: a night already published has nothing new. Rerunning it would
    # only redo the same work (and, before publishing guarded as-of, showed the older night).
    done = published_nights(url, nights)
    for night, as_of in done.items():
        print(f"  night {night}: already published (as of {as_of}), skipped", flush=True)
    todo = [n for n in nights if n not in done]
    ok = True
    if todo:
        with DemoStack(world, local_dir() / "demo") as stack:
            print(f"  emulators up: {stack.counts}", flush=True)
            os.environ.update(stack.env)
            ok = run_range(todo[0], todo[-1], days=todo)
    else:
        print(
            "nothing new: every demo night is already published; marts unchanged "
            "(`schoolcx run --start D --end D --republish` reruns one)",
            flush=True,
        )
    print_summary(url, cfg)
    # nothing ran: the report written when the last night was published still stands
    report = (
        pipeline.report(url, cfg, world.as_of)
        if todo
        else local_dir() / "reports" / world.as_of.isoformat() / "index.html"
    )
    from schoolcx.quality.context import data_docs_dir

    print(f"report:    {report}")
    print(f"data docs: {data_docs_dir() / 'index.html'}")
    print(f"demo {'finished' if ok else 'FAILED'} in {time.monotonic() - started:.0f}s")
    return ok
