"""Process-wide settings the pipeline needs before anything else is imported."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from schoolcx.paths import DAGS_FOLDER, PROJECT_ROOT, local_dir

WAREHOUSE_CONN_ID = "schoolcx_warehouse"
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "demo.yml"
DEFAULT_HUB_CONFIG = PROJECT_ROOT / "config" / "hub.yml"

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


def hub_config_path() -> Path:
    """A consortium hub's config (schoolcx.pooling.hub_config): env SCHOOLCX_HUB_CONFIG."""
    return Path(os.environ.get("SCHOOLCX_HUB_CONFIG", DEFAULT_HUB_CONFIG)).resolve()


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


def mask_secret(secret: str | dict | None) -> None:
    """Airflow's task logs, rendered fields and XComs show *** for `secret` from now on, in this
    process and (inside a task) in the supervisor that writes the log. A dict (a connection's
    extra) masks the values whose keys Airflow deems sensitive (token, secret, password, ...).

    Only when Airflow is loaded: a CLI command or test outside Airflow has no task log to mask,
    and importing Airflow costs seconds.
    """
    if not secret or "airflow" not in sys.modules:
        return
    from airflow.sdk.log import mask_secret as airflow_mask_secret

    if isinstance(secret, dict):
        # Airflow checks a value's length before its key, and warns about every short one
        # (a page size, a flag): pass only values long enough to be masked at all.
        secret = {k: v for k, v in secret.items() if isinstance(v, str) and len(v) >= 5}
        if not secret:
            return
    airflow_mask_secret(secret)
