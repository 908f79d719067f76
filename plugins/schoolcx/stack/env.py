"""The Airflow environment of the local stack, derived from docker-compose.yml.

The compose file's `x-airflow-common` environment is the one description of how the project's
Airflow is configured (executor, auth manager, telemetry off, where the DAGs and config live).
The local stack reads it and replaces only what differs on one machine: hosts and ports (Redis,
the metadata DB, the api-server, the warehouse), secrets (generated per stack, or the
deployment's hash key) and container paths. Any other key a change adds to compose reaches the
local stack unchanged; tests/test_compose.py holds the two equal outside SUBSTITUTED.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from schoolcx.paths import DAGS_FOLDER, PROJECT_ROOT
from schoolcx.settings import WAREHOUSE_CONN_ID

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
EXECUTORS = {"celery": "CeleryExecutor", "local": "LocalExecutor"}

# Compose keys whose values are hosts, ports, secrets or container paths: the local stack sets
# its own. Everything else is taken from compose as written.
SUBSTITUTED = frozenset(
    {
        "AIRFLOW__CORE__DAGS_FOLDER",
        "AIRFLOW__CORE__FERNET_KEY",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CELERY__RESULT_BACKEND",
        "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "SCHOOLCX_HOME",
        "SCHOOLCX_CONFIG",
        "SCHOOLCX_HASH_KEY",
        "WAREHOUSE_URL",
        f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}",
    }
)
# Only `--executor local` changes the executor (and then needs no broker).
EXECUTOR_KEY = "AIRFLOW__CORE__EXECUTOR"


def compose_airflow_env(path: Path = COMPOSE_FILE) -> dict[str, str]:
    """The `x-airflow-common` environment of the compose file, values as written."""
    compose = yaml.safe_load(path.read_text())
    return {k: str(v) for k, v in compose["x-airflow-common"]["environment"].items()}


@dataclass(frozen=True)
class LocalEndpoints:
    """What one machine's stack has in place of compose's services and .env secrets."""

    home: Path  # SCHOOLCX_HOME
    config: Path  # SCHOOLCX_CONFIG
    metadata_url: str  # postgresql://... of the `airflow` database
    warehouse_url: str  # postgresql://... of the warehouse
    api_port: int
    redis_port: int | None  # None: no broker (LocalExecutor)
    jwt_secret: str
    fernet_key: str
    hash_key: str


def _sqlalchemy(url: str, prefix: str = "") -> str:
    # Airflow and Celery's database backend take SQLAlchemy URLs; psycopg 3 is the driver here
    return prefix + url.replace("postgresql://", "postgresql+psycopg://", 1)


def _warehouse_conn(url: str) -> str:
    from schoolcx.warehouse.connect import url_parts

    p = url_parts(url)
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": p["host"],
            "port": int(p["port"]),
            "login": p["user"],
            "password": p["password"] or "unused",  # cosmos refuses an empty one
            "schema": p["dbname"],
        }
    )


def local_airflow_env(
    local: LocalEndpoints, executor: str = "celery", compose_file: Path = COMPOSE_FILE
) -> dict[str, str]:
    """Compose's Airflow environment with SUBSTITUTED set for this machine."""
    env = compose_airflow_env(compose_file)
    env.update(
        {
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__FERNET_KEY": local.fernet_key,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": (
                f"http://127.0.0.1:{local.api_port}/execution/"
            ),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": _sqlalchemy(local.metadata_url),
            "AIRFLOW__CELERY__RESULT_BACKEND": _sqlalchemy(local.metadata_url, prefix="db+"),
            "AIRFLOW__API_AUTH__JWT_SECRET": local.jwt_secret,
            "SCHOOLCX_HOME": str(local.home),
            "SCHOOLCX_CONFIG": str(local.config),
            "SCHOOLCX_HASH_KEY": local.hash_key,
            "WAREHOUSE_URL": local.warehouse_url,
            f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}": _warehouse_conn(local.warehouse_url),
        }
    )
    if local.redis_port is not None:
        env["AIRFLOW__CELERY__BROKER_URL"] = f"redis://127.0.0.1:{local.redis_port}/0"
    env[EXECUTOR_KEY] = EXECUTORS[executor]
    return env
