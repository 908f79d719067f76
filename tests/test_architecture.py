"""The layers written down in `.importlinter` hold, and DAG files call into the pipeline only
(plus `orchestration`, the shared DAG defaults: default args, the dbt task group, assets, and
a consortium hub's step functions in `schoolcx.pooling`)."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "plugins"), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


ALLOWED_IN_DAGS = (
    {"schoolcx.pipeline"}
    | {
        f"schoolcx.orchestration.{n}"
        for n in (
            "DEFAULT_ARGS",
            "DAGRUN_TIMEOUT",
            "EXTRACT_TIMEOUT",
            "dbt_task_group",
            "mart_assets",
            "raw_assets",
            "hub_mart_assets",
            "pool_inbox_asset",
            "intraday_cron",
            "today_status_asset",
        )
    }
    | {
        # a consortium hub's steps (issue 15): the pooling package's one entry point per step,
        # as schoolcx.pipeline holds the nightly's
        "schoolcx.pooling.importer.import_inbox",
        "schoolcx.pooling.hub_build.build_and_publish",
        "schoolcx.pooling.hub_build.current_hub_config",
        "schoolcx.pooling.returns.write_returns",
        # the intraday path (issue 18): one cycle, above the pipeline as pooling is
        "schoolcx.intraday.cycle.airflow_cycle",
    }
)


def test_dag_files_import_only_the_pipeline():
    for dag_file in (ROOT / "dags").glob("*.py"):
        tree = ast.parse(dag_file.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("schoolcx"):
                names = {f"{node.module}.{a.name}" for a in node.names}
                assert names <= ALLOWED_IN_DAGS, (dag_file.name, names)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("schoolcx"), (dag_file.name, alias.name)
