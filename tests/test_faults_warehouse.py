"""The warehouse connection dropped under a running step (pg_terminate_backend from another
connection, as a failover, an idle-session killer or an operator does): during publish and
during a dbt build. Published marts stay byte-identical; the next run completes."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
from psycopg import sql

from schoolcx.paths import DBT_PROJECT_DIR
from schoolcx.publish import marts_checksum, publish
from schoolcx.publish.checksum import PINNED_SETTINGS
from schoolcx.publish.relations import MARTS
from schoolcx.quality.result import GateResult
from schoolcx.refsync import sync_config
from schoolcx.warehouse.connect import url_parts
from tests import fixture_dbt_core as fx
from tests.faults_support import fresh_warehouse
from tests.fixture_marts import as_of, build_night, fixture_config
from tests.test_dbt_core import CORE_MARTS, SELECTION

CFG = fixture_config()


def _backends(
    url: str,
    admin: psycopg.Connection,
    waiting_on_lock: bool = False,
    app: str | None = None,
    running: bool = False,
) -> list[int]:
    """Pids of the other sessions on `url`'s database (optionally: only those waiting on a
    lock, only those of one application_name, only those running a statement)."""
    db = url.rsplit("/", 1)[1]
    rows = admin.execute(
        "select pid from pg_stat_activity where datname = %s and pid <> pg_backend_pid()"
        " and backend_type = 'client backend'"
        + (" and wait_event_type = 'Lock'" if waiting_on_lock else "")
        + (" and state = 'active'" if running else "")
        + (" and application_name = %s" if app else ""),
        (db, app) if app else (db,),
    ).fetchall()
    return [r[0] for r in rows]


def _publish(url: str, night: int):
    gate = GateResult(run_id=f"night-{night}", passed=True)
    return publish(url, CFG, gate.run_id, as_of(night - 1), as_of(night), gate)


def _logged(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select run_id, published from ops.publish_log order by logged_at"
        ).fetchall()


def test_connection_dropped_mid_publish_leaves_marts_byte_identical(warehouse, pg_server):
    build_night(warehouse, 1)
    assert _publish(warehouse, 1).published
    before = marts_checksum(warehouse)
    build_night(warehouse, 2)

    # Hold the last mart so publish stops there with every earlier mart already replaced in
    # its transaction; then kill its backend from another connection.
    last = MARTS[-1]
    errors: list[BaseException] = []

    def run():
        try:
            _publish(warehouse, 2)
        except BaseException as exc:
            errors.append(exc)

    with (
        psycopg.connect(warehouse) as holder,
        psycopg.connect(pg_server, autocommit=True) as admin,
    ):
        holder.execute(f"lock table marts.{last} in access exclusive mode")
        worker = threading.Thread(target=run)
        worker.start()
        deadline = time.monotonic() + 60
        while not (waiting := _backends(warehouse, admin, waiting_on_lock=True)):
            assert worker.is_alive() and time.monotonic() < deadline, errors
            time.sleep(0.02)
        with psycopg.connect(warehouse) as probe:
            # publish really got this far: its replaced marts are only in its transaction
            assert probe.execute(
                "select count(*) from pg_locks where granted and mode ="
                " 'RowExclusiveLock' and pid = %s",
                (waiting[0],),
            ).fetchone()[0]
        admin.execute("select pg_terminate_backend(%s)", (waiting[0],))
        worker.join(60)
        holder.rollback()
    assert errors and isinstance(errors[0], psycopg.OperationalError), errors
    assert marts_checksum(warehouse) == before
    assert _logged(warehouse) == [("night-1", True)]

    # The next run completes and publishes night 2 whole.
    result = _publish(warehouse, 2)
    assert result.published
    assert marts_checksum(warehouse) == result.checksums != before
    assert _logged(warehouse) == [("night-1", True), ("night-2", True)]


# ---- dbt build ------------------------------------------------------------------------------


def _dbt_build(url: str, tmp: Path, as_of: str) -> subprocess.Popen:
    """`dbt build` of the core selection (as tests/test_dbt_core.py runs it), not waited on."""
    env = {
        **os.environ,
        **{f"SCHOOLCX_PG_{k.upper()}": v for k, v in url_parts(url).items()},
        "SCHOOLCX_DBT_THREADS": "2",
        "DBT_TARGET_PATH": str(tmp / "target"),
        "DBT_LOG_PATH": str(tmp / "logs"),
    }
    cmd = [
        str(Path(sys.executable).with_name("dbt")),
        "build",
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--vars",
        f"{{as_of_date: '{as_of}'}}",
        "--select",
        *SELECTION,
        "--indirect-selection",
        "cautious",
    ]
    # into a file, not a pipe: a test that waits for dbt to exit without reading would fill it
    tmp.mkdir(parents=True, exist_ok=True)
    with (tmp / "dbt.out").open("w") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)


def _finish(proc: subprocess.Popen, tmp: Path) -> tuple[int, str]:
    """dbt's exit code and its output, once it has exited (`tmp` as given to `_dbt_build`)."""
    proc.wait(timeout=600)
    return proc.returncode, (tmp / "dbt.out").read_text()


def _relations(url: str, schema: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = %s and c.relkind in ('r', 'v')",
            (schema,),
        ).fetchone()[0]


def _built(url: str) -> dict[str, list[tuple]]:
    """Every built row of the core marts, without load-time bookkeeping (`*loaded_at`: the two
    warehouses were loaded seconds apart)."""
    out = {}
    with psycopg.connect(url) as conn:
        for stmt in PINNED_SETTINGS:
            conn.execute(stmt)
        for mart in CORE_MARTS:
            cols = [
                r[0]
                for r in conn.execute(
                    "select column_name from information_schema.columns where table_schema ="
                    " 'build' and table_name = %s and column_name not like '%%loaded_at'"
                    " order by ordinal_position",
                    (mart,),
                )
            ]
            select = sql.SQL("select {} from build.{}").format(
                sql.SQL(", ").join(map(sql.Identifier, cols)), sql.Identifier(mart)
            )
            out[mart] = sorted(tuple(map(str, r)) for r in conn.execute(select))
    return out


def _prepare(url: str) -> None:
    sync_config(url, fx.config(), today=fx.CONFIG_TODAY)
    fx.insert_rows(url, fx.night_one_rows(), "night-1", dt.timedelta(days=10))


def test_connection_dropped_mid_dbt_build_then_next_build_completes(warehouse, pg_server, tmp_path):
    # Published marts of an earlier night (dbt writes only stg, int and build).
    build_night(warehouse, 1)
    assert _publish(warehouse, 1).published
    before = marts_checksum(warehouse)
    with psycopg.connect(warehouse) as conn:  # the hand-made build tables are not dbt's
        for mart in MARTS:
            conn.execute(f"drop table build.{mart}")
    _prepare(warehouse)

    killed_run = tmp_path / "killed"
    proc = _dbt_build(warehouse, killed_run, fx.AS_OF_NIGHT_ONE)
    killed: list[int] = []
    with psycopg.connect(pg_server, autocommit=True) as admin:
        deadline = time.monotonic() + 300
        # Staging is built and intermediate models are on their way: drop dbt's connections
        # while they run a statement. dbt closes its connection after every node, so one that
        # is idle may be on its way out and its loss would go unnoticed (CI once killed such a
        # one and dbt finished green); a statement can also end between the look and the kill.
        # So keep dropping running sessions of dbt (dbt-postgres names them "dbt") until it exits.
        while proc.poll() is None:
            assert time.monotonic() < deadline
            if _relations(warehouse, "int") >= 3:
                for pid in _backends(warehouse, admin, app="dbt", running=True):
                    # false when the session had ended before the signal
                    if admin.execute("select pg_terminate_backend(%s)", (pid,)).fetchone()[0]:
                        killed.append(pid)
            time.sleep(0.02)
        assert killed, "dbt finished before a connection could be dropped"
    code, out = _finish(proc, killed_run)
    assert killed and code != 0, out[-3000:]
    assert "terminat" in out.lower() or "connection" in out.lower(), out[-3000:]
    assert marts_checksum(warehouse) == before

    rerun = tmp_path / "rerun"
    code, out = _finish(_dbt_build(warehouse, rerun, fx.AS_OF_NIGHT_ONE), rerun)
    assert code == 0, out[-6000:]
    assert marts_checksum(warehouse) == before

    clean = fresh_warehouse(pg_server)
    _prepare(clean)
    clean_run = tmp_path / "clean"
    code, out = _finish(_dbt_build(clean, clean_run, fx.AS_OF_NIGHT_ONE), clean_run)
    assert code == 0, out[-6000:]
    assert _built(warehouse) == _built(clean)
