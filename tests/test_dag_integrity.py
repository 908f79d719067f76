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
            # an asset-triggered timetable has no summary: its class says what starts the DAG
            "schedule": str(getattr(dag.timetable, "summary", type(dag.timetable).__name__)),
            "tasks": {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks},
            "dagrun_timeout": dag.dagrun_timeout and dag.dagrun_timeout.total_seconds(),
            "execution_timeout": {
                t.task_id: t.execution_timeout and t.execution_timeout.total_seconds()
                for t in dag.tasks
            },
            "params": sorted(dag.params.keys()),
        }
    print("JSON" + json.dumps(out))
""")


def _parse(tmp_path_factory, **extra_env) -> dict:
    env = {
        # the default rendering unless a test asks for another (orchestration.DBT_TASKS_ENV)
        **{k: v for k, v in os.environ.items() if k != "SCHOOLCX_DBT_TASKS"},
        "AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow")),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        **extra_env,
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


@pytest.fixture(scope="module")
def parsed(tmp_path_factory, dbt_manifest):
    return _parse(tmp_path_factory)


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


def test_the_nightly_dag_has_a_task_per_model(parsed, dbt_manifest):
    """What a deployment runs: each model its own task (a failure names it, a retry redoes it)."""
    manifest = json.loads(dbt_manifest.read_text())
    models = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    tasks = parsed["dags"]["schoolcx_nightly"]["tasks"]
    rendered = {t.removeprefix("transform.") for t in tasks if t.startswith("transform.")}
    assert len(models) > 20
    assert all(any(t.startswith(m) for t in rendered) for m in models)


def test_the_demo_renders_the_transform_as_one_dbt_build(tmp_path_factory, dbt_manifest):
    """SCHOOLCX_DBT_TASKS=build (`schoolcx demo`): one task in the same place of the DAG."""
    dag = _parse(tmp_path_factory, SCHOOLCX_DBT_TASKS="build")["dags"]["schoolcx_nightly"]
    tasks = dag["tasks"]
    assert [t for t in tasks if t.startswith("transform.")] == ["transform.dbt_build"]
    assert tasks["check_extracts"] == ["transform.dbt_build"]
    assert tasks["transform.dbt_build"] == ["quality_gate", "record_ref_fingerprint"]
    assert tasks["quality_gate"] == ["publish"]
    assert dag["execution_timeout"]["transform.dbt_build"] == 2 * 3600


def test_an_unknown_dbt_rendering_fails_the_import_naming_the_variable(
    tmp_path_factory, dbt_manifest
):
    parsed = _parse(tmp_path_factory, SCHOOLCX_DBT_TASKS="fast")
    errors = " ".join(parsed["errors"].values())
    assert "SCHOOLCX_DBT_TASKS" in errors and "per_model" in errors


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


def test_every_task_and_the_run_have_timeouts(parsed):
    # defaults (schoolcx.runtime): 2 h a task, 3 h an extract attempt, 12 h the whole run
    dag = parsed["dags"]["schoolcx_nightly"]
    assert dag["dagrun_timeout"] == 12 * 3600
    timeouts = dag["execution_timeout"]
    assert timeouts["extract"] == 3 * 3600
    assert all(timeouts[t] == 2 * 3600 for t in timeouts if t != "extract"), timeouts
    assert {"full_refresh", "republish"} <= set(dag["params"])


def test_a_deployment_sets_the_timeouts_in_its_environment(tmp_path_factory, dbt_manifest):
    parsed = _parse(
        tmp_path_factory,
        SCHOOLCX_TASK_TIMEOUT_MINUTES="7",
        SCHOOLCX_EXTRACT_TIMEOUT_MINUTES="11.5",
        SCHOOLCX_DAGRUN_TIMEOUT_MINUTES="90",
    )
    dag = parsed["dags"]["schoolcx_nightly"]
    assert dag["dagrun_timeout"] == 90 * 60
    timeouts = dag["execution_timeout"]
    assert timeouts["extract"] == 11.5 * 60
    dbt_tasks = [t for t in timeouts if t.startswith("transform.")]
    assert dbt_tasks and all(timeouts[t] == 7 * 60 for t in dbt_tasks)
    assert timeouts["prepare"] == timeouts["publish"] == 7 * 60


def test_a_bad_timeout_fails_the_dag_import_naming_the_variable(tmp_path_factory, dbt_manifest):
    parsed = _parse(tmp_path_factory, SCHOOLCX_DAGRUN_TIMEOUT_MINUTES="soon")
    errors = " ".join(parsed["errors"].values())
    assert "SCHOOLCX_DAGRUN_TIMEOUT_MINUTES='soon' is not a number" in errors


def test_http_requests_time_out_as_the_deployment_sets(monkeypatch):
    from schoolcx.connectors.http import VendorClient

    with VendorClient("http://127.0.0.1:9", conn_id="c", source="s") as client:
        assert client._client.timeout.read == 30.0
    monkeypatch.setenv("SCHOOLCX_HTTP_TIMEOUT_SECONDS", "4.5")
    with VendorClient("http://127.0.0.1:9", conn_id="c", source="s") as client:
        assert client._client.timeout.read == client._client.timeout.connect == 4.5
    with VendorClient("http://127.0.0.1:9", conn_id="c", source="s", timeout=2) as client:
        assert client._client.timeout.read == 2  # a connector's explicit value still wins


def test_imap_and_download_timeouts_as_the_deployment_sets(monkeypatch):
    from schoolcx import runtime

    assert (runtime.imap_timeout(), runtime.download_timeout()) == (60.0, 120.0)
    monkeypatch.setenv("SCHOOLCX_IMAP_TIMEOUT_SECONDS", "15")
    monkeypatch.setenv("SCHOOLCX_DOWNLOAD_TIMEOUT_SECONDS", "600")
    assert (runtime.imap_timeout(), runtime.download_timeout()) == (15.0, 600.0)
    monkeypatch.setenv("SCHOOLCX_IMAP_TIMEOUT_SECONDS", "0")
    with pytest.raises(ValueError, match="SCHOOLCX_IMAP_TIMEOUT_SECONDS='0' must be greater"):
        runtime.imap_timeout()


def test_consortium_hub_dag_imports_benchmarks_then_returns(parsed):
    dag = parsed["dags"]["schoolcx_consortium_hub"]
    assert dag["tasks"] == {
        "import_extracts": ["benchmark"],
        "benchmark": ["return_benchmarks"],
        "return_benchmarks": [],
    }
    # started by an event for the inbox asset, not by a clock
    assert "asset" in dag["schedule"].lower(), dag["schedule"]
    assert dag["dagrun_timeout"] == 12 * 3600
