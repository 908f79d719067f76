"""A config change synced into ref.* makes that night's dbt build a full refresh, automatically.

Real PostgreSQL (the `warehouse` fixture); the DAG tests parse the real DAG file and render the
real cosmos dbt task as Airflow would, down to the dbt command line.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap

import psycopg
import pytest
import yaml

from schoolcx import pipeline, refchange
from schoolcx.config import DeploymentConfig
from schoolcx.paths import DBT_PROJECT_DIR
from schoolcx.refchange import (
    CODE_ENTRY,
    code_fingerprint,
    decide_full_refresh,
    last_recorded,
    record_build,
    ref_fingerprint,
)
from schoolcx.refsync import REF_TABLES, sync_config
from tests.test_config import GOOD

TODAY = dt.date(2026, 1, 15)


def _cfg(data) -> DeploymentConfig:
    return DeploymentConfig.model_validate(yaml.safe_load(yaml.safe_dump(data)))


def _district(data) -> dict:
    return data["districts"][0]


def _sync(url, data) -> None:
    sync_config(url, _cfg(data), today=TODAY)


def _night(url, data, run_id: str, build_succeeds: bool = True) -> dict:
    """One night as the DAG does it: sync, decide, and record only after a successful build."""
    _sync(url, data)
    plan = pipeline.plan_refresh(url)
    if build_succeeds:
        pipeline.record_ref_fingerprint(url, run_id, plan)
    return plan


def test_fingerprint_covers_every_ref_table(warehouse):
    # a new ref table (a migration) must be fingerprinted too, or its changes go unnoticed
    with psycopg.connect(warehouse) as conn:
        tables = {
            r[0]
            for r in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'ref'"
            )
        }
    assert tables == set(REF_TABLES)
    assert set(ref_fingerprint(warehouse).tables) == tables | {CODE_ENTRY}


def test_code_fingerprint_follows_models_macros_and_project_file(tmp_path):
    project = tmp_path / "dbt_project"
    for name in refchange.CODE_PATHS:
        source = DBT_PROJECT_DIR / name
        if source.is_dir():
            shutil.copytree(source, project / name)
        else:
            shutil.copy(source, project / name)
    (project / "target").mkdir()  # build output is not code
    (project / "target" / "manifest.json").write_text("{}")
    before = code_fingerprint(project)
    assert before == code_fingerprint(DBT_PROJECT_DIR)
    model = project / "models" / "marts" / "fct_interactions.sql"
    model.write_text(model.read_text() + "\n-- changed\n")
    assert code_fingerprint(project) != before
    model.write_text(model.read_text().removesuffix("\n-- changed\n"))
    assert code_fingerprint(project) == before
    (project / "macros" / "new_macro.sql").write_text("{% macro x() %}1{% endmacro %}")
    assert code_fingerprint(project) != before


def test_upgraded_dbt_code_means_full_refresh(warehouse, monkeypatch):
    # incremental tables keep rows computed by the old code: the first night after an upgrade of
    # the models rebuilds them (here the upgrade is a different code fingerprint)
    _night(warehouse, GOOD, "night-1")
    monkeypatch.setattr(refchange, "code_fingerprint", lambda: "0" * 32)
    plan = _night(warehouse, copy.deepcopy(GOOD), "night-2")
    assert plan["full_refresh"] is True
    assert plan["changed_tables"] == [CODE_ENTRY]
    assert _night(warehouse, copy.deepcopy(GOOD), "night-3")["full_refresh"] is False


def test_unchanged_config_is_no_full_refresh(warehouse):
    first = _night(warehouse, GOOD, "night-1")
    assert first["full_refresh"] is False and "first build" in first["reason"]
    second = _night(warehouse, copy.deepcopy(GOOD), "night-2")
    assert second["full_refresh"] is False
    assert second["reason"] == "reference data unchanged since the last build"
    assert second["fingerprint"] == first["fingerprint"]
    assert last_recorded(warehouse).fingerprint == first["fingerprint"]


def _add_snow_day(d):
    d["calendar"]["closures"].append({"start": "2026-01-09", "reason": "snow day"})


def _later_opening(d):
    d["calendar"]["open"] = "08:00"


def _tighter_sla(d):
    d["sla"]["urgent"]["minutes"] = 90


def _more_students(d):
    d["enrollment"][2026] = 1300


def _new_high_risk_term(d):
    d["high_risk_terms"] = ["lockdown"]


def _new_mail_domain(d):
    d["mail_domains"].append("lincoln-schools.org")


def _new_unit_mapping(d):
    d["sources"][0]["mappings"]["department"]["values"]["12"] = "nutrition"


def _new_survey_item(d):
    d["sources"][1]["options"]["item_map"]["QID2"] = "SAFE_02"


@pytest.mark.parametrize(
    ("change", "tables"),
    [
        (_add_snow_day, "closures"),
        # a shorter service day also moves the SLA targets counted in service days
        (_later_opening, "districts, sla_targets"),
        (_tighter_sla, "sla_targets"),
        (_more_students, "district_enrollment"),
        (_new_high_risk_term, "high_risk_terms"),
        (_new_mail_domain, "districts"),
        (_new_unit_mapping, "unit_mappings"),
        (_new_survey_item, "survey_items"),
    ],
)
def test_config_change_means_full_refresh(warehouse, change, tables, caplog):
    _night(warehouse, GOOD, "night-1")
    changed = copy.deepcopy(GOOD)
    change(_district(changed))
    with caplog.at_level(logging.INFO, logger="schoolcx.pipeline"):
        plan = _night(warehouse, changed, "night-2")
    assert plan["full_refresh"] is True
    assert plan["changed_tables"] == tables.split(", ")
    expected = (
        f"reference data changed since the last build (tables: {tables}): full refresh tonight"
    )
    assert plan["reason"] == expected
    assert expected in caplog.text
    # the next night, with the change already built in, is incremental again
    assert _night(warehouse, changed, "night-3")["full_refresh"] is False


def test_survey_options_of_migration_0005_are_fingerprinted(warehouse):
    _night(warehouse, GOOD, "night-1")
    with psycopg.connect(warehouse) as conn:
        conn.execute("update ref.sources set rating_scale_hi = 7 where source_type = 'qualtrics'")
    plan = decide_full_refresh(warehouse)
    assert plan.full_refresh and plan.changed_tables == ("sources",)


def test_row_order_does_not_change_the_fingerprint(warehouse):
    _sync(warehouse, GOOD)
    before = ref_fingerprint(warehouse)
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute("select * from ref.closures order by closure_date desc").fetchall()
        conn.execute("delete from ref.closures")
        with conn.cursor().copy("copy ref.closures from stdin") as cp:
            for row in rows:
                cp.write_row(row)
    assert ref_fingerprint(warehouse) == before


def test_failed_build_does_not_record_and_retries_the_full_refresh(warehouse):
    _night(warehouse, GOOD, "night-1")
    changed = copy.deepcopy(GOOD)
    _add_snow_day(_district(changed))
    failed = _night(warehouse, changed, "night-2", build_succeeds=False)
    assert failed["full_refresh"] is True
    with psycopg.connect(warehouse) as conn:
        runs = [r[0] for r in conn.execute("select run_id from ops.ref_fingerprints")]
    assert runs == ["night-1"]
    retried = _night(warehouse, changed, "night-3")
    assert retried["full_refresh"] is True and retried["changed_tables"] == ["closures"]
    assert _night(warehouse, changed, "night-4")["full_refresh"] is False


def test_existing_build_without_a_record_is_refreshed(warehouse):
    _sync(warehouse, GOOD)
    with psycopg.connect(warehouse) as conn:
        conn.execute("create table build.fct_daily_volume (district_id text)")
    plan = decide_full_refresh(warehouse)
    assert plan.full_refresh is True
    assert "no reference fingerprint recorded" in plan.reason
    assert "fct_daily_volume" in plan.reason


def test_requested_full_refresh_is_kept(warehouse):
    _night(warehouse, GOOD, "night-1")
    _sync(warehouse, GOOD)
    plan = pipeline.plan_refresh(warehouse, requested=True)
    assert plan["full_refresh"] is True and plan["reason"].startswith("full refresh requested")
    record_build(warehouse, "night-2", plan)
    assert last_recorded(warehouse).fingerprint == plan["fingerprint"]


# --- the decision reaches dbt --------------------------------------------------------------
# In a subprocess with its own AIRFLOW_HOME (as test_dag_integrity), so the Airflow config of
# this test session is left alone.

PROBE = textwrap.dedent("""
    import copy, json
    import airflow  # noqa: F401 - before cosmos (import order)
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=DAGS_FOLDER)
    assert not bag.import_errors, bag.import_errors
    dag = bag.dags["schoolcx_nightly"]  # get_dag would ask the metadata DB
    dbt_tasks = {t.task_id for t in dag.tasks if t.task_id.startswith("transform.")}
    record = dag.get_task("record_ref_fingerprint")
    out = {
        "record_trigger_rule": getattr(record.trigger_rule, "value", str(record.trigger_rule)),
        "record_upstream": sorted(record.upstream_task_ids),
        "dbt_leaves": sorted(
            t for t in dbt_tasks if not dag.get_task(t).downstream_task_ids & dbt_tasks
        ),
        "gate_upstream": sorted(dag.get_task("quality_gate").upstream_task_ids),
        "commands": [],
    }

    class PreparedTI:
        # what the prepare task pushed, as ti.xcom_pull returns it to a template
        def __init__(self, pushed):
            self.pushed = pushed

        def xcom_pull(self, task_ids=None, key="return_value", **_):
            assert task_ids == "prepare", task_ids
            return self.pushed.get(key)

    task_id = next(
        t for t in sorted(dbt_tasks) if t.startswith("transform.fct_interactions") and "build" in t
    )
    vars_ = {"as_of_date": "2026-01-14", "k_min_districts": 5, "n_min_observations": 30}
    for param, decided in CASES:
        # render the real cosmos task as Airflow does before execute(), then build its command
        task = copy.deepcopy(dag.get_task(task_id))
        ti = PreparedTI({"full_refresh": decided, "dbt_vars": vars_})
        context = {"params": {"full_refresh": param}, "ti": ti, "run_id": "t"}
        task.render_template_fields(context)
        cmd, _env = task.build_cmd(context=context, cmd_flags=task.add_cmd_flags())
        out["commands"].append([str(c) for c in cmd])

    # Execute one real dbt task (a staging view: no upstream models needed) against the test
    # warehouse, as the worker would, and capture what dbt itself received and parsed.
    import cosmos.dbt.runner as dbt_runner

    seen = []
    real_run_command = dbt_runner.run_command

    def spy(command, env, cwd, **kwargs):
        result = real_run_command(command, env, cwd, **kwargs)
        args = getattr(result.result, "args", {}) or {}
        seen.append({"command": [str(c) for c in command], "success": result.success,
                     "dbt_full_refresh": args.get("full_refresh")})
        return result

    dbt_runner.run_command = spy
    staging = next(t for t in sorted(dbt_tasks) if t.startswith("transform.stg_ref__districts"))
    for decided in (True, False):
        task = copy.deepcopy(dag.get_task(staging))
        ti = PreparedTI({"full_refresh": decided, "dbt_vars": vars_})
        context = {"params": {"full_refresh": False}, "ti": ti, "task_instance": ti,
                   "run_id": "t"}
        task.render_template_fields(context)
        task.execute(context)
    out["executed"] = seen
    print("JSON" + json.dumps(out))
""")
CASES = [(False, False, False), (False, True, True), (True, False, True), (True, True, True)]


@pytest.fixture(scope="module")
def probed(tmp_path_factory, dbt_manifest, module_warehouse):
    from schoolcx.paths import DAGS_FOLDER, PROJECT_ROOT
    from schoolcx.warehouse.connect import url_parts

    _sync(module_warehouse, GOOD)
    p = url_parts(module_warehouse)
    conn = {
        "conn_type": "postgres",
        "host": p["host"],
        "port": int(p["port"]),
        "login": p["user"],
        "password": p["password"] or "unused",
        "schema": p["dbname"],
    }
    env = {
        **os.environ,
        "WAREHOUSE_URL": module_warehouse,
        "AIRFLOW_CONN_SCHOOLCX_WAREHOUSE": json.dumps(conn),
        "AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow")),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
    }
    code = (
        f"DAGS_FOLDER = {str(DAGS_FOLDER)!r}\nCASES = {[(p, d) for p, d, _ in CASES]!r}\n" + PROBE
    )
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


def test_fingerprint_is_recorded_only_after_every_dbt_task_succeeded(probed):
    assert probed["record_trigger_rule"] == "all_success"
    assert probed["dbt_leaves"] and probed["record_upstream"] == probed["dbt_leaves"]
    # beside the gate: bookkeeping never holds up publishing
    assert "record_ref_fingerprint" not in probed["gate_upstream"]


@pytest.mark.parametrize(("case", "expected"), [(i, c[2]) for i, c in enumerate(CASES)])
def test_the_decision_reaches_the_dbt_command(probed, case, expected):
    cmd = probed["commands"][case]
    assert cmd[1] == "build" and "fct_interactions" in " ".join(cmd)
    assert ("--full-refresh" in cmd) is expected
    assert "2026-01-14" in " ".join(cmd)  # the vars from the same XCom render too


def test_dbt_runs_a_full_refresh_when_prepare_decided_so(probed):
    # a real cosmos task executed: dbt received --full-refresh, parsed it and succeeded
    decided, incremental = probed["executed"]
    assert decided["success"] and incremental["success"]
    assert "--full-refresh" in decided["command"] and decided["dbt_full_refresh"] is True
    assert "--full-refresh" not in incremental["command"]
    assert not incremental["dbt_full_refresh"]
