"""What the DAG files share: default args, assets, and the cosmos (dbt) task group config.

Kept out of dags/ so DAG files stay a schedule, a docstring and wiring; kept free of heavy
imports (dbt, GX) so parsing stays fast.
"""

from __future__ import annotations

import datetime as dt
import logging
import os

from schoolcx.marts import HUB_MARTS, MARTS
from schoolcx.paths import DBT_PROJECT_DIR, dbt_executable
from schoolcx.runtime import dagrun_timeout, extract_timeout, task_timeout
from schoolcx.settings import WAREHOUSE_CONN_ID

log = logging.getLogger(__name__)

RAW_TABLES = (
    "zendesk_tickets",
    "zendesk_ticket_events",
    "zendesk_users",
    "zendesk_satisfaction_ratings",
    "zendesk_groups",
    "zendesk_organizations",
    "freshdesk_tickets",
    "freshdesk_conversations",
    "freshdesk_contacts",
    "freshdesk_satisfaction_ratings",
    "freshdesk_surveys",
    "freshdesk_ticket_fields",
    "imap_messages",
    "qualtrics_responses",
    "surveymonkey_responses",
    "file_drop_rows",
)
DBT_VARS = ("as_of_date", "k_min_districts", "n_min_observations")
_XCOM_VAR = "{{ ti.xcom_pull(task_ids='prepare', key='dbt_vars')['NAME'] }}"
FULL_REFRESH_TEMPLATE = (
    "{{ params.full_refresh or ti.xcom_pull(task_ids='prepare', key='full_refresh') }}"
)
MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
# Environment of every nightly dbt invocation (cosmos tasks and pipeline.dbt). Unit tests check
# the models' logic on fixed rows, not the night's data: `make test` runs them (tests/), the
# nightly build does not pay for them again. Data tests group whole tables (keys of millions of
# rows), so their sessions get the models' work_mem (dbt_project.yml sets it for models only).
NIGHTLY_DBT_ENV = {
    "DBT_EXCLUDE_RESOURCE_TYPES": "unit_test",
    "PGOPTIONS": " ".join(
        (
            os.environ.get("PGOPTIONS", ""),
            "-c",
            f"work_mem={os.environ.get('SCHOOLCX_DBT_WORK_MEM', '128MB')}",
        )
    ).strip(),
}

DEFAULT_ARGS = {
    "owner": "schoolcx",
    "retries": 1,
    "retry_delay": dt.timedelta(minutes=5),
    # A hung task is killed (and retried) instead of holding the night open; the deployment
    # sets the limits in its environment (schoolcx.runtime).
    "execution_timeout": task_timeout(),
}
# One source's extract attempt (a first night reads the whole history: longer than a task).
EXTRACT_TIMEOUT = extract_timeout()
# The whole run: with max_active_runs=1 a run that never ends would block every later night.
DAGRUN_TIMEOUT = dagrun_timeout()


def asset_uri(schema: str, table: str) -> str:
    return f"postgres://warehouse:5432/schoolcx/{schema}/{table}"


def raw_assets():
    from airflow.sdk import Asset

    return [Asset(name=f"raw.{t}", uri=asset_uri("raw", t)) for t in RAW_TABLES]


def mart_assets():
    from airflow.sdk import Asset

    return [Asset(name=f"marts.{t}", uri=asset_uri("marts", t)) for t in MARTS]


# A consortium hub's inbox of district extracts (schoolcx.pooling). Whatever delivers an
# extract (a district's export into a shared folder, a sync job, an object-store notification)
# posts an event for this asset (Airflow REST API POST /api/v2/assets/events, or an outlet in
# the same Airflow), which starts the hub DAG.
POOL_INBOX_ASSET = "schoolcx.pool.inbox"


def pool_inbox_asset():
    from airflow.sdk import Asset

    return Asset(name=POOL_INBOX_ASSET)


def hub_mart_assets():
    """The hub's published marts: another warehouse than a district's, so other assets."""
    from airflow.sdk import Asset

    return [
        Asset(name=f"hub.marts.{t}", uri=f"postgres://hub-warehouse:5432/schoolcx/marts/{t}")
        for t in HUB_MARTS
    ]


# How the transform renders (read when the DAG file is parsed): `per_model`, the default and
# what a deployment runs, one cosmos task per model (a failure names its model, a retry redoes
# one model, the UI shows where the night is); `build`, one `dbt build` of the whole project in
# a single task, for tiny data where ~250 tasks' start-up costs more than the SQL (`schoolcx
# demo`; DECISIONLOG "The first run"). Both build the same nodes with the same vars, env and
# full-refresh decision, so they publish the same marts (tests/test_end_to_end.py).
DBT_TASKS_ENV = "SCHOOLCX_DBT_TASKS"
DBT_TASKS_MODES = ("per_model", "build")
DBT_BUILD_TASK_ID = "dbt_build"


def dbt_tasks_mode() -> str:
    mode = os.environ.get(DBT_TASKS_ENV, "").strip() or "per_model"
    if mode not in DBT_TASKS_MODES:
        raise ValueError(f"{DBT_TASKS_ENV}={mode!r}: expected one of {', '.join(DBT_TASKS_MODES)}")
    return mode


def _profile_config(**profile_args):
    from cosmos import ProfileConfig
    from cosmos.profiles import PostgresUserPasswordProfileMapping

    return ProfileConfig(
        profile_name="schoolcx",
        target_name="airflow",
        profile_mapping=PostgresUserPasswordProfileMapping(
            conn_id=WAREHOUSE_CONN_ID,
            profile_args={"schema": "build", **profile_args},
        ),
    )


def _dbt_operator_args() -> dict:
    return {
        "install_deps": False,
        "env": NIGHTLY_DBT_ENV,
        "retries": 0,  # a failed model or test is a bug or bad data, not a blip
        # Requested (param) or decided by prepare: the reference data changed since the
        # last successful build (pipeline.plan_refresh). Renders "True"/"False"; cosmos
        # turns a true string into --full-refresh.
        "full_refresh": FULL_REFRESH_TEMPLATE,
        # The as-of date and peer thresholds come from the run (pipeline.dbt_vars, pushed by
        # the prepare task), so a backfill of an old interval computes that night's marts.
        "vars": {name: _XCOM_VAR.replace("NAME", name) for name in DBT_VARS},
    }


def dbt_task_group(group_id: str = "transform"):
    """The transform stage as SCHOOLCX_DBT_TASKS renders it (dbt_tasks_mode)."""
    if dbt_tasks_mode() == "build":
        return dbt_build_group(group_id)
    return dbt_per_model_group(group_id)


def dbt_build_group(group_id: str = "transform"):
    """One `dbt build` of the project (seeds, models and their tests in dependency order, a
    failing test skipping its children as in the per-model group) in dbt's own thread pool."""
    from airflow.sdk import TaskGroup
    from cosmos.constants import InvocationMode
    from cosmos.operators.local import DbtBuildLocalOperator

    with TaskGroup(group_id=group_id) as group:
        DbtBuildLocalOperator(
            task_id=DBT_BUILD_TASK_ID,
            project_dir=str(DBT_PROJECT_DIR),
            profile_config=_profile_config(
                threads=int(os.environ.get("SCHOOLCX_DBT_THREADS", "4"))
            ),
            dbt_executable_path=dbt_executable(),
            invocation_mode=InvocationMode.DBT_RUNNER,
            emit_datasets=False,
            **_dbt_operator_args(),
        )
    return group


def dbt_per_model_group(group_id: str = "transform"):
    """dbt through cosmos: one task per model (build = run + its tests, so a failing test stops
    its children), parsed from a manifest built ahead (no dbt at parse time)."""
    from cosmos import DbtTaskGroup, ExecutionConfig, ProjectConfig, RenderConfig
    from cosmos.constants import InvocationMode, LoadMode, TestBehavior

    return DbtTaskGroup(
        group_id=group_id,
        project_config=ProjectConfig(
            dbt_project_path=DBT_PROJECT_DIR,
            manifest_path=MANIFEST,
            install_dbt_deps=False,
        ),
        profile_config=_profile_config(),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            test_behavior=TestBehavior.BUILD,
            emit_datasets=False,  # the DAG declares raw and published assets itself
            # A test with several parents (relationships, the business-minutes examples) runs
            # as its own task after all of them, not inside the first parent's build.
            should_detach_multiple_parents_tests=True,
        ),
        execution_config=ExecutionConfig(
            dbt_executable_path=dbt_executable(),
            invocation_mode=InvocationMode.DBT_RUNNER,
        ),
        operator_args=_dbt_operator_args(),
    )
