"""The quiet console (schoolcx.console): a real Airflow DAG run under `dag.test()` with the
terminal quiet. What Airflow, the tasks' loggers, print() and child processes write lands in
the log file, never on the terminal; the terminal shows a bar per stage (dbt's "N of M" lines
counted for a one-task build) and a failing task's traceback with the log's path."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from schoolcx.paths import PROJECT_ROOT

# The nightly DAG's stage names (console.stage_of), with tasks that log the ways the real
# ones do. The "dbt build" prints dbt's result lines; the gate fails.
TINY_DAG = textwrap.dedent("""
    import datetime as dt
    import logging
    import subprocess

    from airflow.sdk import TaskGroup, dag, task

    @dag(dag_id="tiny", schedule=None, start_date=dt.datetime(2025, 1, 1), catchup=False)
    def tiny():
        @task
        def prepare():
            logging.getLogger("airflow.task").info("a-task-log-line")

        @task
        def extract():
            subprocess.run(["echo", "a-child-process-line"], check=True)

        with TaskGroup("transform") as transform:
            @task
            def dbt_build():
                print("1 of 1 OK hook: schoolcx.on-run-start.0 ...... [OK in 0.01s]")
                print("1 of 3 OK created sql table model build.stg_a ... [SELECT 5 in 0.1s]")
                print("2 of 3 PASS not_null_stg_a_id ... [PASS in 0.05s]")
                print("3 of 3 OK created sql view model build.fct_b ... [CREATE VIEW in 0.1s]")

            dbt_build()

        @task
        def quality_gate():
            raise ValueError("boom: the gate's expectation failed")

        prepare() >> extract() >> transform >> quality_gate()

    tiny()
""")

DRIVER = textwrap.dedent("""
    import datetime as dt
    import os
    import sys

    from schoolcx.runner import setup_airflow

    setup_airflow("postgresql://nobody:unused@127.0.0.1:9/none")
    from airflow.dag_processing.dagbag import DagBag

    from schoolcx.console import NightProgress, quiet_run

    def body(console, log):
        dag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).get_dag("tiny")
        with NightProgress(console, log, url="postgresql://nobody@127.0.0.1:9/none",
                           sources=1) as progress:
            with progress.night(dt.date(2025, 10, 15), 1, 1, dag):
                run = dag.test(logical_date=dt.datetime(2025, 10, 16, 8, tzinfo=dt.UTC))
        console.print(f"state={run.state}")
        console.print("timings: " + progress.timings[0].line())
        return False

    quiet_run("tiny", body)
    print("after-the-quiet-block")  # the terminal is back
""")


ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


@pytest.fixture(scope="module", params=["pipe", "terminal"])
def tiny_run(request, tmp_path_factory):
    """The driver with its stdout a pipe, and on a pseudo-terminal (`script`), where rich
    draws live bars and would, unless told not to, catch sys.stdout and show the logs."""
    tmp = tmp_path_factory.mktemp("quiet")
    dags = tmp / "dags"
    dags.mkdir()
    (dags / "tiny.py").write_text(TINY_DAG)
    (tmp / "driver.py").write_text(DRIVER)
    env = {
        **os.environ,
        "SCHOOLCX_HOME": str(tmp / "home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW_HOME": str(tmp / "home" / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp / 'home' / 'airflow.db'}",
    }
    cmd = [sys.executable, str(tmp / "driver.py")]
    if request.param == "terminal":
        cmd = ["script", "-qec", " ".join(cmd), "/dev/null"]
    result = subprocess.run(
        cmd, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    # what a reader sees: escape codes gone, each redraw of the bars on its own line
    result.stdout = ANSI.sub("", result.stdout).replace("\r\n", "\n").replace("\r", "\n")
    logs = list((tmp / "home" / "logs").glob("tiny-*.log"))
    return result, logs


def test_nothing_but_progress_reaches_the_terminal(tiny_run):
    result, _ = tiny_run
    out = result.stdout + result.stderr
    assert "state=failed" in result.stdout, out[-3000:]
    for noise in ("a-task-log-line", "a-child-process-line", "[DAG TEST]", "1 of 3 OK", "Task"):
        assert noise not in out, noise
    assert "after-the-quiet-block" in result.stdout


def test_the_log_file_holds_what_the_terminal_did_not_show(tiny_run):
    result, logs = tiny_run
    assert len(logs) == 1, result.stdout[-2000:]
    text = logs[0].read_text()
    for line in ("a-task-log-line", "a-child-process-line", "[DAG TEST]", "1 of 3 OK created"):
        assert line in text, line
    assert f"logs (Airflow, cosmos, dbt, GX): {logs[0]}" in result.stdout


def test_stages_show_as_bars_with_counts(tiny_run):
    result, _ = tiny_run
    out = result.stdout
    assert "night 1/1: 2025-10-15" in out
    # one extract of one source; dbt's three result lines, two of them models
    assert re.search(r"extract\s.*1/1", out), out
    assert re.search(r"transform\s.*3/3\s+dbt nodes \(2 models built\)", out), out
    assert re.search(r"gate\s.*FAILED", out), out
    assert re.search(r"timings: 2025-10-15: extract \d+s, transform \d+s, gate \d+s", out)


def test_a_failing_task_prints_its_error_in_full_with_the_log_path(tiny_run):
    result, logs = tiny_run
    out = result.stdout
    assert "task quality_gate failed:" in out
    assert "Traceback" in out and "ValueError: boom: the gate's expectation failed" in out
    assert f"full log: {logs[0]}" in out


def test_an_error_outside_any_task_prints_with_the_log_path(tmp_path):
    """A run that cannot start (a warehouse nobody listens on) still says why, and where the
    log is, and exits non-zero."""
    env = {
        **os.environ,
        "SCHOOLCX_HOME": str(tmp_path),
        "WAREHOUSE_URL": "postgresql://nobody:unused@127.0.0.1:9/none",
    }
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "schoolcx"),
            *("run", "--quiet", "--start", "2025-10-15", "--end", "2025-10-15"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1
    (log,) = (tmp_path / "logs").glob("run-*.log")
    assert "run failed:" in result.stdout
    assert "Traceback" in result.stdout and "OperationalError" in result.stdout
    assert f"full log: {log}" in result.stdout
