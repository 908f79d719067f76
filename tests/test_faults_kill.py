"""A worker killed with SIGKILL in the middle of a page stream, then rerun.

No exception raised inside a generator: the extract runs in its own interpreter (config file,
AIRFLOW_CONN_* connection, `extract_source`, as a worker runs it) against an emulator or a real
dovecot, and this process kills it once ops.extract_runs shows N pages committed. The rerun must
land exactly what a clean extract of the same world lands into another database: the same
record versions, byte for byte, nothing doubled, nothing missing.
"""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
import yaml

from schoolcx.sandbox.emulators import freshdesk as fd_emulator
from schoolcx.sandbox.emulators import zendesk as zd_emulator
from schoolcx.sandbox.emulators.http_base import Faults
from schoolcx.sandbox.emulators.imap_server import deliver_world, render_source, start_dovecot
from tests.faults_support import (
    IMAP_SOURCE,
    ZD_SOURCE,
    ZD_TABLES,
    child_env,
    fresh_warehouse,
    imap_config,
    kill_after_pages,
    raw_rows,
    run_child,
    write_config,
    zd_config,
    zd_world,
)

UNTIL = dt.datetime(2025, 9, 30, 23, tzinfo=dt.UTC)


def _runs(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select run_id, status from ops.extract_runs order by started_at"
        ).fetchall()


@pytest.mark.parametrize("kill_at", [4, 17])  # in the users export; in ticket events
def test_zendesk_extract_killed_mid_stream_then_rerun_equals_clean(
    warehouse, pg_server, tmp_path, kill_at
):
    world = zd_world()
    config = write_config(tmp_path / "config.json", zd_config(page_size=1))
    # 50 ms per request: a page stream of a few seconds, so the kill lands inside it.
    with zd_emulator.serve(world, [ZD_SOURCE], Faults(latency=0.05)) as running:
        env = child_env("zd_d1", running.connection(ZD_SOURCE))
        committed = kill_after_pages(config, warehouse, ZD_SOURCE, UNTIL, env, kill_at)
        partial = raw_rows(warehouse, ZD_TABLES)
        run_child(config, warehouse, ZD_SOURCE, "rerun", UNTIL, env)
        clean = fresh_warehouse(pg_server)
        run_child(config, clean, ZD_SOURCE, "clean", UNTIL, env)
    expected = raw_rows(clean, ZD_TABLES)
    assert 0 < sum(map(len, partial.values())) < sum(map(len, expected.values()))
    assert committed >= kill_at
    assert raw_rows(warehouse, ZD_TABLES) == expected
    live = [r for r in expected["zendesk_tickets"] if int(r[1]) < zd_emulator.DELETED_ID_BASE]
    assert len(live) == len(world.interactions)  # beside the deleted twins the export carries
    # The killed run never got to say so: it stays `running`; the rerun succeeded.
    assert _runs(warehouse) == [("killed", "running"), ("rerun", "success")]


FD_SOURCE = "d2-freshdesk"
FD_TABLES = (
    "freshdesk_tickets",
    "freshdesk_conversations",
    "freshdesk_contacts",
    "freshdesk_satisfaction_ratings",
    "freshdesk_surveys",
)


def test_freshdesk_extract_killed_mid_stream_then_rerun_equals_clean(
    warehouse, pg_server, tmp_path
):
    world = zd_world()
    for t in world.interactions:
        t.source_name, t.district_id = FD_SOURCE, "1700002"
    cfg = zd_config()
    district = cfg["districts"][0]
    district["district_id"] = "1700002"
    district["sources"] = [
        {
            "name": FD_SOURCE,
            "type": "freshdesk",
            "conn_id": "fd_d2",
            "start_date": "2025-08-01",
            "options": {"per_page": 1},
        }
    ]
    config = write_config(tmp_path / "config.json", cfg)
    with fd_emulator.serve(world, [FD_SOURCE], Faults(latency=0.05)) as running:
        env = child_env("fd_d2", running.connection(FD_SOURCE))
        kill_after_pages(config, warehouse, FD_SOURCE, UNTIL, env, 6)
        partial = raw_rows(warehouse, FD_TABLES)
        run_child(config, warehouse, FD_SOURCE, "rerun", UNTIL, env)
        clean = fresh_warehouse(pg_server)
        run_child(config, clean, FD_SOURCE, "clean", UNTIL, env)
    expected = raw_rows(clean, FD_TABLES)
    assert 0 < sum(map(len, partial.values())) < sum(map(len, expected.values()))
    assert raw_rows(warehouse, FD_TABLES) == expected
    assert len(expected["freshdesk_tickets"]) == len(world.interactions)


IMAP_CONFIG = yaml.safe_dump(imap_config(batch_size=1))


def _mail_world():
    world = zd_world(30)
    for t in world.interactions:
        t.source_name, t.channel = IMAP_SOURCE, "email"
    world.config_yaml = IMAP_CONFIG
    return world


def test_imap_extract_killed_mid_stream_then_rerun_equals_clean(warehouse, pg_server, tmp_path):
    world = _mail_world()
    mailbox = "help@lincoln.k12.il.us"
    config = write_config(tmp_path / "config.json", yaml.safe_load(IMAP_CONFIG))
    with start_dovecot(tmp_path / "imap", {mailbox: "help-secret"}) as running:
        delivered = sum(deliver_world(running, world, IMAP_SOURCE, mailbox).values())
        assert delivered == len(render_source(world, IMAP_SOURCE))
        env = child_env("d1_mail", running.connection(IMAP_SOURCE))
        kill_after_pages(config, warehouse, IMAP_SOURCE, UNTIL, env, 12)
        partial = raw_rows(warehouse, ("imap_messages",))
        run_child(config, warehouse, IMAP_SOURCE, "rerun", UNTIL, env)
        clean = fresh_warehouse(pg_server)
        run_child(config, clean, IMAP_SOURCE, "clean", UNTIL, env)
    expected = raw_rows(clean, ("imap_messages",))
    assert 0 < len(partial["imap_messages"]) < delivered
    assert len(expected["imap_messages"]) == delivered
    assert raw_rows(warehouse, ("imap_messages",)) == expected
