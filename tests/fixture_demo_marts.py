"""The demo world's published marts, built for real without Airflow: the report's tests read them.

`publish_demo_marts(url, workdir)` generates the `make demo` world (six districts in two
consortiums, this school year to date and the same span a year earlier), serves it through the
vendor emulators and dovecot, and runs one night's steps as the DAG's tasks call them:
prepare, every source's extract, one `dbt build`, the GX gate and publish. It runs in a child
process (`python -m tests.fixture_demo_marts URL WORKDIR`) because the stack's connections are
environment variables that must not leak into the test session. Minutes, not seconds: build
once per module.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from schoolcx.paths import PROJECT_ROOT


def publish_demo_marts(url: str, workdir: Path, timeout: int = 1500) -> dict:
    """Build and publish the demo world's marts into `url`; returns the child's summary
    (config path, as-of date)."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "WAREHOUSE_URL": url,
        "SCHOOLCX_HOME": str(workdir / "home"),
        "SCHOOLCX_DATA_DOCS_DIR": str(workdir / "data_docs"),
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.fixture_demo_marts", url, str(workdir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=PROJECT_ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stdout[-4000:] + done.stderr[-6000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _night(url: str, workdir: Path) -> dict:
    from schoolcx import pipeline
    from schoolcx.config import load_config
    from schoolcx.sandbox.demo.generator import demo_spec, generate_world
    from schoolcx.sandbox.demo.stack import DemoStack

    world = generate_world(demo_spec())
    config = yaml.safe_load(world.config_yaml)
    for district in config["districts"]:  # drop folders under this build's own dir
        for source in district["sources"]:
            if source["type"] == "file_drop":
                source["options"]["path"] = str(workdir / "drop" / source["name"])
    config_path = workdir / "config.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    world.config_yaml = config_path.read_text()
    cfg = load_config(config_path)

    run_id = f"report-demo-{world.as_of}"
    start = dt.datetime.combine(world.as_of, dt.time(8), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    with DemoStack(world, workdir / "stack") as stack:
        os.environ.update(stack.env)
        for source in pipeline.prepare(url, cfg):
            pipeline.extract(url, cfg, source, run_id, until=end)
    as_of = pipeline.as_of_date(end, cfg)
    variables = json.dumps(pipeline.dbt_vars(cfg, as_of))
    pipeline.dbt(
        url,
        [
            "build",
            "--quiet",
            "--vars",
            variables,
            "--target-path",
            str(workdir / "dbt_target"),
            "--log-path",
            str(workdir / "dbt_logs"),
        ],
    )
    gate = pipeline.gate_step(url, cfg, run_id, end)
    published = pipeline.publish_step(url, cfg, run_id, start, end, gate, as_of=as_of)
    assert published.get("published"), published
    return {"config": str(config_path), "as_of": as_of.isoformat()}


if __name__ == "__main__":
    print(json.dumps(_night(sys.argv[1], Path(sys.argv[2]))), flush=True)
