"""Shared fixtures: a real PostgreSQL per test session (embedded pgserver unless WAREHOUSE_URL)."""

from __future__ import annotations

import os
import tempfile
import uuid

import psycopg
import pytest

os.environ.setdefault("SCHOOLCX_HASH_KEY", "test-only-hash-key")
# Each test process its own home (.local: Airflow's SQLite metadata DB, keys, reports), so the
# suite's two xdist workers never share one, and a developer's .local is never touched.
os.environ.setdefault("SCHOOLCX_HOME", tempfile.mkdtemp(prefix="schoolcx-test-home-"))
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
def dbt_manifest(pg_server):
    """dbt's manifest, built ahead as the DAG expects (dbt parse reads no table), by the
    runner's own step: under a lock and only when stale, since the suite's xdist workers share
    the project's target/ folder and one worker's DAG may be reading it while the other starts.
    """
    from schoolcx.runner import ensure_manifest

    return ensure_manifest(pg_server)


# Modules that take minutes (a whole demo world, real dbt builds, an Airflow stack), handed out
# first: `make test` runs two xdist workers with --dist loadfile, which gives out modules in
# collection order, so a long module collected last would leave one worker idle at the end.
LONG_MODULES = (
    "test_report_pages",
    "test_end_to_end",
    "test_celery_stack",
    "test_pool_benchmarks",
    "test_secrets_scan",
    "test_dbt_core",
    "test_intraday",
    "test_intake_accounting",
    "test_faults_warehouse",
    "test_quiet_console",
    "test_dbt_health",
)


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        name = item.module.__name__.rsplit(".", 1)[-1]
        return LONG_MODULES.index(name) if name in LONG_MODULES else len(LONG_MODULES)

    items.sort(key=rank)  # stable: a module's tests stay together and in their order
