"""Every DAG file imports without errors or cycles, parses fast, and wires the stages in order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from schoolcx.paths import DAGS_FOLDER, PROJECT_ROOT

PARSE_PROBE = textwrap.dedent("""
    import json, time
    import airflow  # noqa: F401 - paid before timing: the limit is on the DAG file itself
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=DAGS_FOLDER)
    out = {"errors": {k: str(v) for k, v in bag.import_errors.items()},
           "stats": [{"file": s.file, "seconds": s.duration.total_seconds()
                      if hasattr(s.duration, "total_seconds") else s.duration}
                     for s in bag.dagbag_stats],
           "dags": {}}
    for dag_id, dag in bag.dags.items():
        out["dags"][dag_id] = {
            "schedule": str(dag.timetable.summary),
            "tasks": {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks},
        }
    print("JSON" + json.dumps(out))
""")


@pytest.fixture(scope="module")
def parsed(tmp_path_factory, dbt_manifest):
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow")),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
    }
    code = f"DAGS_FOLDER = {str(DAGS_FOLDER)!r}\n" + PARSE_PROBE
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=False,
        timeout=300,
    )
    line = next((x for x in result.stdout.splitlines() if x.startswith("JSON")), None)
    assert line, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(line[4:])


def test_every_dag_file_imports_without_errors(parsed):
    assert parsed["errors"] == {}
    files = {p.name for p in DAGS_FOLDER.glob("*.py")}
    assert {os.path.basename(s["file"]) for s in parsed["stats"]} == files


def test_each_dag_file_parses_under_two_seconds(parsed):
    for stat in parsed["stats"]:
        assert stat["seconds"] < 2.0, stat


def test_nightly_dag_runs_stages_in_order(parsed):
    dag = parsed["dags"]["schoolcx_nightly"]
    tasks = dag["tasks"]
    dbt_tasks = {t for t in tasks if t.startswith("transform.")}
    assert dbt_tasks, "the dbt task group rendered no tasks"
    assert "extract" in tasks["prepare"]
    assert tasks["extract"] == ["check_extracts"]
    # the gate waits for every dbt leaf; nothing publishes except after the gate
    leaves = {t for t in dbt_tasks if not set(tasks[t]) & dbt_tasks}
    assert all("quality_gate" in tasks[t] for t in leaves)
    assert set(tasks["check_extracts"]) <= dbt_tasks
    assert tasks["quality_gate"] == ["publish"]
    assert tasks["publish"] == ["report"]
    assert "0 8 * * *" in dag["schedule"]


def _acyclic(tasks: dict[str, list[str]]) -> bool:
    state: dict[str, int] = {}

    def visit(node: str) -> bool:
        if state.get(node) == 1:
            return False
        if state.get(node) == 2:
            return True
        state[node] = 1
        ok = all(visit(n) for n in tasks[node])
        state[node] = 2
        return ok

    return all(visit(t) for t in tasks)


def test_no_cycles(parsed):
    for dag in parsed["dags"].values():
        assert _acyclic(dag["tasks"])
