"""Process-wide settings the pipeline needs before anything else is imported."""

from __future__ import annotations

import os
from pathlib import Path

from schoolcx.paths import DAGS_FOLDER, PROJECT_ROOT, local_dir

WAREHOUSE_CONN_ID = "schoolcx_warehouse"
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "demo.yml"

# No internet here or on many district servers: telemetry calls only fail and log.
QUIET_TELEMETRY = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    "GX_ANALYTICS_ENABLED": "False",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "DO_NOT_TRACK": "1",
    "SCARF_ANALYTICS": "false",
}


def config_path() -> Path:
    return Path(os.environ.get("SCHOOLCX_CONFIG", DEFAULT_CONFIG)).resolve()


def airflow_env() -> dict[str, str]:
    """Environment for running Airflow locally (SQLite metadata DB under .local/)."""
    home = local_dir() / "airflow"
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        **QUIET_TELEMETRY,
    }


def apply_defaults() -> None:
    for key, value in QUIET_TELEMETRY.items():
        os.environ.setdefault(key, value)
