"""The nightly DAG, unchanged, on a real distributed run: `schoolcx stack up --executor celery`
with two Celery workers, Redis and the metadata DB in PostgreSQL, one night triggered through
the REST API v2 (`schoolcx stack run`). The mapped extracts must have run on both workers
(task_instance.hostname), and the published marts must equal those of a local run (`schoolcx
run`, dag.test()) of the same night on the same world, run meanwhile beside the stack. Then the
same night on the LocalExecutor stack (`stack up --executor local`, what `make demo` can use):
every task succeeds and the marts are the same again."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from schoolcx.marts import MARTS
from schoolcx.publish.checksum import PINNED_SETTINGS
from schoolcx.sandbox.demo.generator import generate_world
from schoolcx.sandbox.demo.spec import DemoSpec
from schoolcx.sandbox.demo.stack import DemoStack
from tests.faults_support import fresh_warehouse

SCHOOLCX = str(Path(sys.executable).parent / "schoolcx")
STACK = ["--executor", "celery", "--workers", "2", "--concurrency", "1"]  # 1: a task per worker
RUN_TIMEOUT = 420  # s (`stack run --timeout` too); the night takes 2 min on a busy machine


def _published_marts(url: str) -> dict[str, tuple[int, str]]:
    """(rows, md5) of every published mart, without load-time bookkeeping (`*loaded_at`: the
    two warehouses were loaded a minute apart, by two different runs)."""
    out = {}
    with psycopg.connect(url) as conn:
        for stmt in PINNED_SETTINGS:
            conn.execute(stmt)
        for mart in MARTS:
            cols = conn.execute(
                "select column_name from information_schema.columns where table_schema ="
                " 'marts' and table_name = %s and column_name not like '%%loaded_at'"
                " order by ordinal_position",
                (mart,),
            ).fetchall()
            if not cols:
                continue
            row = conn.execute(
                sql.SQL(
                    "select count(*), md5(coalesce(string_agg(h, '' order by h), ''))"
                    " from (select md5(row({})::text) as h from marts.{}) s"
                ).format(
                    sql.SQL(", ").join(sql.Identifier(c[0]) for c in cols), sql.Identifier(mart)
                )
            ).fetchone()
            out[mart] = (int(row[0]), row[1])
    return out


def _task_instances(state, run_id: str) -> list[tuple]:
    """(task_id, map_index, hostname, state) of the run's task instances, from the metadata DB."""
    with psycopg.connect(state.metadata_url) as conn:
        return conn.execute(
            "select task_id, map_index, hostname, state from task_instance where run_id = %s",
            (run_id,),
        ).fetchall()


def _failed_task_logs(state, run_id: str) -> str:
    """The log of every task instance of the run that did not succeed (for the failure)."""
    rows = [r for r in _task_instances(state, run_id) if r[3] != "success"]
    out = [f"not successful: {rows}"]
    logs = Path(state.airflow_home) / "logs"
    for task_id, *_ in rows:
        for log in sorted(logs.glob(f"**/task_id={task_id}/**/attempt=*.log")):
            out.append(f"--- {log}\n{log.read_text(errors='replace')[-4000:]}")
    return "\n".join(out)


def _stack_night(args: list[str], env: dict, config_path: Path, as_of: dt.date) -> dict:
    """`schoolcx stack up <args>`, one night through `stack run`, `stack down` (always): what
    up and down said, the run's task instances and the stack's state."""
    from schoolcx.stack.lifecycle import StackState

    started = time.monotonic()
    try:
        up = subprocess.run(
            [SCHOOLCX, "stack", "up", "--config", str(config_path), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-4000:]
        home = Path(env["SCHOOLCX_HOME"])
        state = StackState(**json.loads((home / "stack" / "state.json").read_text()))
        night_run = subprocess.run(
            [SCHOOLCX, "stack", "run", "--date", str(as_of), "--timeout", "420"],
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT + 60,
            check=False,
        )
        assert night_run.stdout.startswith("triggered "), night_run.stdout + night_run.stderr
        run_id = night_run.stdout.split()[1]  # "triggered <run id> ..."
        assert night_run.returncode == 0, night_run.stdout + _failed_task_logs(state, run_id)
        hosts = _task_instances(state, run_id)
    finally:
        down = subprocess.run([SCHOOLCX, "stack", "down"], env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    print(f"stack {' '.join(args)}: up + night + down {seconds:.0f}s; {down.stdout.strip()}")
    return {"up": up.stdout, "down": down.stdout, "hosts": hosts, "state": state}


@pytest.fixture(scope="module")
def nights(pg_server, dbt_manifest, tmp_path_factory):
    """One night of a two-district world on the Celery stack and, meanwhile, locally
    (dag.test()); then the same night on the LocalExecutor stack."""
    tmp = tmp_path_factory.mktemp("celery")
    world = generate_world(
        DemoSpec(
            seed=7,
            as_of=dt.date(2025, 10, 15),
            start=dt.date(2025, 10, 6),
            districts=2,  # six sources of five kinds: zendesk, imap, qualtrics, freshdesk, ...
            contacts_per_1000=80.0,
        )
    )
    config_path = tmp / "config.yml"
    config_path.write_text(world.config_yaml)
    celery_url, local_url = fresh_warehouse(pg_server), fresh_warehouse(pg_server)
    local_executor_url = fresh_warehouse(pg_server)
    with DemoStack(world, tmp / "demo") as demo:
        # Airflow settings an earlier in-process test may have left in os.environ stay out
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AIRFLOW__") and k != "AIRFLOW_HOME"
        }
        base = {**inherited, **demo.env, "SCHOOLCX_DBT_TASKS": "build"}
        night = ["--start", str(world.as_of), "--end", str(world.as_of)]
        local = subprocess.Popen(
            [SCHOOLCX, "run", "--config", str(config_path), *night],
            env={
                **base,
                "WAREHOUSE_URL": local_url,
                "SCHOOLCX_HOME": str(tmp / "local-home"),
                "SCHOOLCX_DATA_DOCS_DIR": str(tmp / "local-docs"),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

        def stack_env(name: str, url: str) -> dict:
            return {
                **base,
                "WAREHOUSE_URL": url,
                "SCHOOLCX_HOME": str(tmp / f"{name}-home"),
                "SCHOOLCX_DATA_DOCS_DIR": str(tmp / f"{name}-docs"),
                # only the night this test triggers: no scheduled run for "yesterday"
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            }

        try:
            celery = _stack_night(STACK, stack_env("celery", celery_url), config_path, world.as_of)
            local_out, _ = local.communicate(timeout=RUN_TIMEOUT)
            assert local.returncode == 0, local_out[-6000:]
        finally:
            if local.poll() is None:
                local.kill()
                local.wait()
        # the run `make demo` can use: the same stack with the LocalExecutor (no broker, no
        # workers: the scheduler runs each task in a process of its own)
        local_executor = _stack_night(
            ["--executor", "local"],
            stack_env("local-executor", local_executor_url),
            config_path,
            world.as_of,
        )
    return {
        **celery,
        "celery": _published_marts(celery_url),
        "local": _published_marts(local_url),
        "celery_url": celery_url,
        "local_executor": {**local_executor, "marts": _published_marts(local_executor_url)},
    }


def test_mapped_extracts_ran_on_both_workers(nights):
    extracts = [(h, s) for task, _, h, s in nights["hosts"] if task == "extract"]
    assert len(extracts) >= 2
    assert all(s == "success" for _, s in extracts)
    workers = {h.split("@")[0] for h, _ in extracts}
    assert workers == {"worker1", "worker2"}, extracts
    # every task ran on a Celery worker, none inside the scheduler
    assert all(h and h.split("@")[0] in {"worker1", "worker2"} for _, _, h, _ in nights["hosts"])


def test_published_marts_equal_a_local_run_of_the_same_night(nights):
    published = {m: n for m, (n, _) in nights["celery"].items()}
    assert published["fct_interactions"] > 0 and published["peer_benchmarks"] > 0, published
    assert nights["celery"] == nights["local"]
    with psycopg.connect(nights["celery_url"]) as conn:
        rows = conn.execute("select count(*) from ops.publish_log where published").fetchone()
    assert rows[0] == 1


def test_the_stack_started_every_component_and_stopped_them_all(nights):
    state = nights["state"]
    names = set(state.pids)
    assert names == {
        "redis",
        "scheduler",
        "dag-processor",
        "api-server",
        "triggerer",
        "worker1",
        "worker2",
    }
    assert "7 of 7 processes were running and are stopped" in nights["down"]
    assert "and the embedded PostgreSQL it started" in nights["down"]
    assert not any(state.running().values())
    assert "stack up in" in nights["up"] and "2 workers, 7 processes" in nights["up"]


def test_the_local_executor_stack_runs_the_same_night_to_the_same_marts(nights):
    run = nights["local_executor"]
    assert run["state"].executor == "local"
    tasks = run["hosts"]
    assert sum(1 for task, *_ in tasks if task == "extract") >= 2  # mapped, one per source
    assert all(state == "success" for *_, state in tasks), tasks
    assert run["marts"] == nights["local"]
    assert set(run["state"].pids) == {"scheduler", "dag-processor", "api-server", "triggerer"}
    assert "4 of 4 processes were running and are stopped" in run["down"]
    assert not any(run["state"].running().values())
