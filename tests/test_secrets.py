"""Defect 13: a warehouse password with URL metacharacters stays one password, every secret read
from AIRFLOW_CONN_* or WAREHOUSE_URL is registered with Airflow's secret masker, and
`schoolcx warehouse url` prints no password unless asked.

The end-to-end proof (a night against a password-protected login role, then every file it
wrote scanned for the secrets) is tests/test_secrets_scan.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import psycopg
from sqlalchemy.engine import make_url

from schoolcx.cli import main
from schoolcx.quality.context import gx_connection_string
from schoolcx.warehouse.connect import make_url as make_conninfo
from schoolcx.warehouse.connect import redacted, url_parts

# Every character that means something in a URL: @ (user info), / (path), : (port), # (fragment)
PASSWORD = "p@ss/w:rd#S3CRET"
TOKEN = "tok-9f8e7d-S3CRET-api"


def _warehouse_connection(monkeypatch, password: str = PASSWORD) -> None:
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    monkeypatch.setenv(
        "AIRFLOW_CONN_SCHOOLCX_WAREHOUSE",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": "db.internal",
                "port": 6543,
                "login": "loader",
                "password": password,
                "schema": "schoolcx",
            }
        ),
    )


def test_password_with_url_metacharacters_stays_the_password(monkeypatch):
    from schoolcx.pipeline import resolve_warehouse_url

    _warehouse_connection(monkeypatch)
    url = resolve_warehouse_url()
    # an unescaped f-string URL makes libpq read host "rd#S3CRET@db.internal" or fail outright
    assert url_parts(url) == {
        "host": "db.internal",
        "port": "6543",
        "user": "loader",
        "password": PASSWORD,
        "dbname": "schoolcx",
    }


def test_gx_connection_string_keeps_pieces_apart():
    url = make_conninfo("db.internal", 6543, "loader", PASSWORD, "schoolcx")
    sqla = make_url(gx_connection_string(url))
    assert (sqla.drivername, sqla.username, sqla.password) == (
        "postgresql+psycopg",
        "loader",
        PASSWORD,
    )
    assert (sqla.host, sqla.port, sqla.database) == ("db.internal", 6543, "schoolcx")
    assert sqla.query["options"] == "-csearch_path=build"
    # a percent-encoded URL (what an operator puts in WAREHOUSE_URL) reads the same
    env_url = (
        "postgresql://loader:p%40ss%2Fw%3Ard%23S3CRET@db.internal:6543/schoolcx?sslmode=require"
    )
    again = make_url(gx_connection_string(env_url))
    assert again.password == PASSWORD and again.query["sslmode"] == "require"


def test_redacted_hides_the_password_in_both_forms():
    conninfo = make_conninfo("db.internal", 6543, "loader", PASSWORD, "schoolcx")
    url = "postgresql://loader:p%40ss%2Fw%3Ard%23S3CRET@db.internal:6543/schoolcx"
    in_query = "postgresql://loader@db.internal:6543/schoolcx?password=p%40ss%2Fw%3Ard%23S3CRET"
    for text in (conninfo, url, in_query):
        shown = redacted(text)
        assert "S3CRET" not in shown
        assert url_parts(shown)["host"] == "db.internal"
        assert url_parts(shown)["user"] == "loader"


def test_warehouse_url_command_redacts_unless_asked(monkeypatch, capsys):
    url = "postgresql://loader:p%40ss%2Fw%3Ard%23S3CRET@db.internal:6543/schoolcx"
    monkeypatch.setenv("WAREHOUSE_URL", url)
    assert main(["warehouse", "url"]) == 0
    shown = capsys.readouterr().out.strip()
    assert "S3CRET" not in shown and "p%40ss" not in shown
    assert url_parts(shown)["host"] == "db.internal"
    assert main(["warehouse", "url", "--show-password"]) == 0
    assert url_parts(capsys.readouterr().out.strip())["password"] == PASSWORD


def test_connection_secrets_are_registered_with_airflow_masker(tmp_path):
    """In a process that runs Airflow tasks, a password read from AIRFLOW_CONN_* (which Airflow
    itself never saw) and the warehouse password of WAREHOUSE_URL are masked in logs."""
    script = textwrap.dedent(
        f"""
        import logging, os
        import airflow.sdk  # an Airflow process: the task runner has Airflow loaded
        from airflow.sdk._shared.secrets_masker import redact
        os.environ["AIRFLOW_CONN_D1_ZENDESK"] = (
            '{{"conn_type": "http", "host": "zd.example", "login": "bot@d1.org", '
            '"password": "{TOKEN}", "extra": {{"api_token": "extra-{TOKEN}", "page": "100"}}}}'
        )
        os.environ["WAREHOUSE_URL"] = {make_conninfo("h", 5432, "u", PASSWORD, "d")!r}
        from schoolcx.connections import get_connection
        from schoolcx.pipeline import resolve_warehouse_url
        get_connection("d1_zendesk")
        resolve_warehouse_url()  # what every task calls; WAREHOUSE_URL is how runner passes it
        print(redact("token {TOKEN} extra extra-{TOKEN} page 100 pw {PASSWORD}"))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout.strip()
    assert "S3CRET" not in out, out
    out = out.splitlines()[-1]  # after Airflow's own log lines
    assert out.startswith("token ***") and "page 100" in out


def test_login_with_such_a_password_works(pg_server):
    """The built conninfo really logs in (scram is not needed to check libpq reads it whole)."""
    info = url_parts(pg_server)
    url = make_conninfo(info["host"], info["port"], info["user"], PASSWORD, info["dbname"])
    with psycopg.connect(url) as conn:
        assert conn.execute("select current_user").fetchone()[0] == info["user"]
