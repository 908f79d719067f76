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
    from schoolcx.runner import run_range
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
    with DemoStack(world, local_dir() / "demo") as stack:
        print(f"  emulators up: {stack.counts}", flush=True)
        os.environ.update(stack.env)
        first = world.as_of - dt.timedelta(days=days - 1)
        ok = run_range(first, world.as_of)
    url = pipeline.resolve_warehouse_url()
    print_summary(url, cfg)
    report = pipeline.report(url, cfg, world.as_of)
    from schoolcx.quality.context import data_docs_dir

    print(f"report:    {report}")
    print(f"data docs: {data_docs_dir() / 'index.html'}")
    print(f"demo {'finished' if ok else 'FAILED'} in {time.monotonic() - started:.0f}s")
    return ok
