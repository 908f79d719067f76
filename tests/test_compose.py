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
