"""Shared fixtures: a real PostgreSQL per test session (embedded pgserver unless WAREHOUSE_URL)."""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest

os.environ.setdefault("SCHOOLCX_HASH_KEY", "test-only-hash-key")
for _var, _val in {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    "GX_ANALYTICS_ENABLED": "False",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "DO_NOT_TRACK": "1",
}.items():
    os.environ.setdefault(_var, _val)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    """URL of the server's maintenance DB; one embedded server for the whole session."""
    external = os.environ.get("SCHOOLCX_TEST_PG_URL")
    if external:
        yield external
        return
    from schoolcx.warehouse import embedded

    data_dir = tmp_path_factory.mktemp("pg") / "data"
    server = embedded.start(data_dir)
    yield server.url.rsplit("/", 1)[0] + "/postgres"
    embedded.stop(data_dir)


def _fresh_database(pg_server: str) -> str:
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return pg_server.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def warehouse(pg_server):
    """A fresh, migrated warehouse database for one test; its URL."""
    from schoolcx.warehouse import migrate

    url = _fresh_database(pg_server)
    migrate(url)
    return url


@pytest.fixture(scope="module")
def module_warehouse(pg_server):
    """A fresh, migrated warehouse database shared by one test module; its URL."""
    from schoolcx.warehouse import migrate

    url = _fresh_database(pg_server)
    migrate(url)
    return url


@pytest.fixture(scope="session")
def dbt_manifest():
    """dbt's manifest, built ahead as the DAG expects (dbt parse needs no database)."""
    import subprocess

    from schoolcx.orchestration import MANIFEST
    from schoolcx.paths import DBT_PROJECT_DIR, dbt_executable

    env = {**os.environ, "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR)}
    subprocess.run(
        [dbt_executable(), "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR)],
        env=env,
        check=True,
    )
    return MANIFEST
