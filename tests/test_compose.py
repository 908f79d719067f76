"""The production compose file validates against the Compose Specification (offline)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
EXPECTED_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
    "airflow-db",
    "redis",
    "warehouse",
}


def test_compose_file_validates_against_compose_spec():
    exe = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(exe), "--builtin-schema", "vendor.compose-spec", str(ROOT / "docker-compose.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_names_every_service_and_shares_secrets_from_env():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert "name" not in compose  # docker-compose v1 rejects a top-level name
    assert set(compose["services"]) == EXPECTED_SERVICES
    airflow = [
        s for n, s in compose["services"].items() if n.startswith("airflow-") and n != "airflow-db"
    ]
    for service in airflow:
        env = service["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("${AIRFLOW_JWT_SECRET")
    text = (ROOT / "docker-compose.yml").read_text()
    assert "change-me" not in text  # no secret values in the committed file
    assert (ROOT / ".env.example").exists()


def test_local_stack_runs_airflow_as_compose_configures_it():
    """`schoolcx stack up` derives its Airflow env from compose's x-airflow-common: equal to it
    except the hosts, ports, secrets and container paths it substitutes; CeleryExecutor in
    both; every compose Airflow service has its local process."""
    from schoolcx.stack import lifecycle
    from schoolcx.stack.env import (
        SUBSTITUTED,
        LocalEndpoints,
        compose_airflow_env,
        local_airflow_env,
    )

    compose_env = compose_airflow_env()
    local = local_airflow_env(
        LocalEndpoints(
            home=Path("/tmp/home"),
            config=Path("/tmp/config.yml"),
            metadata_url="postgresql://postgres:x@127.0.0.1:5999/airflow",
            warehouse_url="postgresql://postgres:x@127.0.0.1:5999/schoolcx",
            api_port=8999,
            redis_port=6999,
            jwt_secret="jwt",
            fernet_key="fernet",
            hash_key="hash",
        )
    )
    assert set(local) == set(compose_env)
    assert set(compose_env) >= SUBSTITUTED  # no stale names
    same = {k: v for k, v in compose_env.items() if k not in SUBSTITUTED}
    assert {k: local[k] for k in same} == same
    for key in SUBSTITUTED:  # each one really is this machine's value
        assert local[key] != compose_env[key], key
    assert compose_env["AIRFLOW__CORE__EXECUTOR"] == local["AIRFLOW__CORE__EXECUTOR"]
    assert local["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert local["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:6999/0"
    assert local["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql+psycopg://")
    assert local["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8999/execution/"

    # the same set of Airflow components: compose's services, the stack's processes
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    compose_components = {
        n.removeprefix("airflow-").replace("apiserver", "api-server")
        for n in compose["services"]
        if n.startswith("airflow-") and n not in ("airflow-db", "airflow-init")
    }
    local_components = {
        "worker" if name.startswith("worker") else name
        for name, _, _ in lifecycle.components("celery", workers=2, concurrency=1, api_port=1)
    }
    assert local_components == compose_components
