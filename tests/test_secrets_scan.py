"""Defect 13, end to end: a night against a warehouse login whose password is full of URL
metacharacters leaves that password, and every vendor connection's token, nowhere it writes.

The warehouse login is a real password-protected role (scram-sha-256 in pg_hba for that role
only; the session's other tests keep trust auth), named only by the Airflow connection
AIRFLOW_CONN_SCHOOLCX_WAREHOUSE, as a deployment names it. The night runs on the small demo
world served by the vendor emulators and dovecot, in one process with Airflow loaded, as
`schoolcx run` does: `dag.test()` of prepare, every extract, check_extracts and one cosmos dbt
task (the profile-mapping path), then the rest of the night's steps as the DAG's tasks call
them (one `dbt build`, the GX gate, publish, report) - the whole DAG through cosmos takes four
minutes here, this two. Then every file under the run's home (the Airflow metadata DB holding
XComs and rendered fields), its Data Docs, the dbt artifacts (target/, logs/), the HTML report,
the process's output (the task logs: dag.test() runs tasks in process) and the ops tables are
searched for the secrets, raw, percent-encoded and JSON-escaped.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
import yaml
from psycopg import sql

from schoolcx.paths import DBT_PROJECT_DIR
from schoolcx.sandbox.demo.generator import generate_world, small_spec
from schoolcx.sandbox.demo.stack import DemoStack
from schoolcx.warehouse.connect import make_url, url_parts

PASSWORD = "p@ss/w:rd#S3CRET"
ROLE = "schoolcx_secret_loader"
# The DAG tasks run through Airflow; a cosmos task whose model needs only raw.* and ref.*.
AIRFLOW_TASKS = (
    "prepare",
    "extract",
    "check_extracts",
    # a staging model read from raw alone: every other task is marked done, not run
    "transform.stg_zendesk__groups_model_build",
)
NIGHT = """
import datetime as dt, json, os, re, sys
from schoolcx import pipeline, runner
from schoolcx.config import load_config
from schoolcx.warehouse import migrate

day = dt.date.fromisoformat(sys.argv[1])
runner.ensure_hash_key()
url = pipeline.resolve_warehouse_url()
os.environ.setdefault("WAREHOUSE_URL", url)  # as runner.run_range: tasks and dbt use this one
migrate(url)
runner.ensure_manifest(url)
runner.setup_airflow(url)
# the other tasks are marked done, not run (partial_subset loses the mapped extract's input)
others = "(?!(" + "|".join(map(re.escape, json.loads(sys.argv[2]))) + ")$).*"
dagrun = runner.load_dag().test(
    logical_date=runner.logical_date_for(day), mark_success_pattern=others
)
assert str(dagrun.state).endswith("success"), dagrun.state
cfg = load_config(os.environ["SCHOOLCX_CONFIG"])
start = dt.datetime.combine(day, dt.time(8), tzinfo=dt.UTC)
end = start + dt.timedelta(days=1)
as_of = pipeline.as_of_date(end, cfg)
variables = json.dumps(pipeline.dbt_vars(cfg, as_of))
pipeline.dbt(url, ["build", "--vars", variables])
gate = pipeline.gate_step(url, cfg, dagrun.run_id, end)
pipeline.publish_step(url, cfg, dagrun.run_id, start, end, gate)
print("report:", pipeline.report(url, cfg, as_of))
"""


@pytest.fixture
def scram_login(pg_server):
    """A superuser LOGIN role with PASSWORD that must authenticate by scram-sha-256 over TCP,
    and a database it owns; yields the pieces of its connection."""
    admin = url_parts(pg_server)
    with psycopg.connect(pg_server, autocommit=True) as conn:
        hba = Path(conn.execute("show hba_file").fetchone()[0])
        conn.execute("set password_encryption = 'scram-sha-256'")
        conn.execute(
            sql.SQL("create role {} login superuser password {}").format(
                sql.Identifier(ROLE), sql.Literal(PASSWORD)
            )
        )
        dbname = "t_secret_" + uuid.uuid4().hex[:8]
        conn.execute(
            sql.SQL("create database {} owner {}").format(*map(sql.Identifier, (dbname, ROLE)))
        )
        original = hba.read_text()
        # first match wins: this role only, over TCP and the socket, by password
        hba.write_text(
            f"host all {ROLE} 127.0.0.1/32 scram-sha-256\nlocal all {ROLE} scram-sha-256\n"
            + original
        )
        conn.execute("select pg_reload_conf()")
    pieces = {"host": admin["host"], "port": admin["port"], "user": ROLE, "dbname": dbname}
    try:
        yield pieces
    finally:
        hba.write_text(original)
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute("select pg_reload_conf()")
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(dbname))
            )
            conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(ROLE)))
            conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(ROLE)))


def _variants(secret: str) -> set[str]:
    """The forms a leaked secret takes: as is, percent-encoded (a URL), JSON-escaped."""
    return {secret, quote(secret, safe=""), json.dumps(secret)[1:-1]}


def _leaks(paths: list[Path], texts: dict[str, str], secrets: dict[str, str]) -> list[str]:
    needles = {v.encode(): name for name, s in secrets.items() for v in _variants(s)}
    found = []
    for root in paths:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for f in files:
            data = f.read_bytes()
            found += [f"{name} in {f}" for needle, name in needles.items() if needle in data]
    for where, text in texts.items():
        found += [
            f"{name} in {where}" for needle, name in needles.items() if needle.decode() in text
        ]
    return sorted(set(found))


def test_scram_login_needs_the_whole_password(scram_login):
    conninfo = make_url(**{**scram_login, "password": PASSWORD})
    with psycopg.connect(conninfo) as conn:
        assert conn.execute("select current_user").fetchone()[0] == ROLE
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(make_url(**{**scram_login, "password": "p"}))


def test_a_night_writes_no_secret_anywhere(scram_login, tmp_path):
    world = generate_world(small_spec())
    config = yaml.safe_load(world.config_yaml)
    for district in config["districts"]:
        for source in district["sources"]:
            if source["type"] == "file_drop":
                source["options"]["path"] = str(tmp_path / "drop" / source["name"])
    config_path = tmp_path / "config.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    world.config_yaml = config_path.read_text()
    home = tmp_path / "home"
    docs = tmp_path / "data_docs"

    with DemoStack(world, tmp_path / "stack") as stack:
        secrets = {"warehouse password": PASSWORD}
        for var, value in stack.env.items():
            if var.startswith("AIRFLOW_CONN_"):
                password = json.loads(value).get("password")
                if password and len(password) >= 5:
                    secrets[f"{var} password"] = password
        assert len(secrets) > 5  # every vendor connection's token, the mailboxes' passwords
        env = {k: v for k, v in os.environ.items() if k != "WAREHOUSE_URL"}
        env.update(
            {
                **stack.env,
                "SCHOOLCX_HOME": str(home),
                "SCHOOLCX_DATA_DOCS_DIR": str(docs),
                # the warehouse as a deployment names it: an Airflow connection, no URL
                "AIRFLOW_CONN_SCHOOLCX_WAREHOUSE": json.dumps(
                    {
                        "conn_type": "postgres",
                        "host": scram_login["host"],
                        "port": int(scram_login["port"]),
                        "login": ROLE,
                        "password": PASSWORD,
                        "schema": scram_login["dbname"],
                    }
                ),
            }
        )
        env["SCHOOLCX_CONFIG"] = str(config_path)
        night = subprocess.run(
            [sys.executable, "-c", NIGHT, str(world.as_of), json.dumps(AIRFLOW_TASKS)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
        url_cmd = subprocess.run(
            [str(Path(sys.executable).parent / "schoolcx"), "warehouse", "url"],
            env={**env, "WAREHOUSE_URL": make_url(**{**scram_login, "password": PASSWORD})},
            capture_output=True,
            text=True,
            check=True,
        )
    # dag.test() runs the tasks in this process: their logs are its output (kept as files too)
    (tmp_path / "night.out").write_text(night.stdout)
    (tmp_path / "night.err").write_text(night.stderr)
    assert night.returncode == 0, night.stdout[-4000:] + night.stderr[-6000:]

    # The run really went through the password login, and wrote what is scanned below.
    conninfo = make_url(**{**scram_login, "password": PASSWORD})
    with psycopg.connect(conninfo) as conn:
        owners = {
            r[0]
            for r in conn.execute("select tableowner from pg_tables where schemaname = 'marts'")
        }
        assert owners == {ROLE}
        assert conn.execute("select bool_or(published) from ops.publish_log").fetchone()[0]
        extracts = conn.execute(
            "select count(*), count(*) filter (where status <> 'success') from ops.extract_runs"
        ).fetchone()
        assert extracts[0] > 5 and extracts[1] == 0  # the connections were really used
        ops_rows = "\n".join(
            str(row)
            for table in ("extract_runs", "publish_log", "gate_results")
            for row in conn.execute(f"select * from ops.{table}")
        )
    output = night.stdout + night.stderr
    for task_line in ("extract summary:", "stg_zendesk__groups", "published:", "report:"):
        assert task_line in output, task_line
    assert (docs / "index.html").exists()
    with sqlite3.connect(home / "airflow" / "airflow.db") as meta:  # XComs are scanned in it
        assert meta.execute("select count(*) from xcom").fetchone()[0] > 5
    assert list((home / "reports").rglob("index.html"))
    assert (DBT_PROJECT_DIR / "target" / "manifest.json").exists()

    # Everything the night wrote, except the hash key file (a secret of its own, not ours).
    scanned = [
        p for p in home.rglob("*") if p.is_file() and "secrets" not in p.relative_to(home).parts
    ]
    scanned += [docs, DBT_PROJECT_DIR / "target"]
    if (DBT_PROJECT_DIR / "logs").exists():
        scanned.append(DBT_PROJECT_DIR / "logs")
    leaks = _leaks(
        scanned,
        {
            "schoolcx run stdout": night.stdout,
            "schoolcx run stderr": night.stderr,
            "ops tables": ops_rows,
            "schoolcx warehouse url": url_cmd.stdout,
        },
        secrets,
    )
    assert leaks == []
