"""Warehouse bootstrap: embedded server start/stop, schemas, idempotent migrations, ref sync."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
import yaml

from schoolcx.config import DeploymentConfig
from schoolcx.refsync import sync_config
from schoolcx.warehouse import embedded, migrate
from tests.test_config import GOOD


def test_embedded_server_is_idempotent_and_stops(tmp_path):
    data_dir = tmp_path / "wh"
    first = embedded.start(data_dir)
    try:
        again = embedded.start(data_dir)
        assert again.port == first.port  # found running, not a second server
        with psycopg.connect(first.url) as conn:
            assert conn.execute("show server_version").fetchone()[0].startswith("16")
            assert conn.execute("select current_database()").fetchone()[0] == "schoolcx"
    finally:
        assert embedded.stop(data_dir)
    assert not embedded.is_running(data_dir)
    assert embedded.stop(data_dir) is False


def test_migrations_create_schemas_and_are_idempotent(warehouse):
    assert migrate(warehouse) == []  # the fixture applied them all already
    with psycopg.connect(warehouse) as conn:
        schemas = {r[0] for r in conn.execute("select nspname from pg_namespace")}
        assert {"raw", "quarantine", "ref", "ops", "build", "marts"} <= schemas
        versions = [
            r[0] for r in conn.execute("select version from ops.schema_migrations order by version")
        ]
        assert versions[:3] == [
            "0001_schemas_ops_quarantine.sql",
            "0002_raw_tables.sql",
            "0003_ref_tables.sql",
        ]
        raw = {
            r[0]
            for r in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'raw'"
            )
        }
        assert {"zendesk_tickets", "imap_messages", "file_drop_rows"} <= raw


def test_ref_sync_resolves_holidays_closures_and_sla(warehouse):
    cfg = DeploymentConfig.model_validate(yaml.safe_load(yaml.safe_dump(GOOD)))
    counts = sync_config(warehouse, cfg, today=dt.date(2026, 1, 15))
    assert counts["districts"] == 1 and counts["sources"] == 2
    with psycopg.connect(warehouse) as conn:
        closed = dict(
            conn.execute(
                "select closure_date, reason from ref.closures where district_id = '1700001'"
            ).fetchall()
        )
        assert "Thanksgiving" in closed[dt.date(2025, 11, 27)]
        assert dt.date(2025, 11, 28) not in closed  # the Friday after is not federal
        assert closed[dt.date(2026, 2, 13)] == "district closure"
        assert closed[dt.date(2025, 12, 29)] == "winter break"
        # Independence Day 2026 falls on a Saturday: observed Friday 3 July
        assert dt.date(2026, 7, 3) in closed
        sla = dict(conn.execute("select priority, target_business_minutes from ref.sla_targets"))
        assert sla == {"urgent": 120, "high": 540, "normal": 1080, "low": 2700}
        mapping = conn.execute("select * from ref.unit_mappings").fetchall()
        # the last column is the mapping's place in config order (migration 0017)
        assert mapping == [("lincoln-zendesk", "department", "group_id", "11", "transport", 0)]
        departments = conn.execute("select * from ref.departments order by 2").fetchall()
        assert departments == [("1700001", "nutrition"), ("1700001", "transport")]
    # a second sync replaces rather than appends
    assert sync_config(warehouse, cfg, today=dt.date(2026, 1, 15)) == counts
    with psycopg.connect(warehouse) as conn:
        assert conn.execute("select count(*) from ref.districts").fetchone()[0] == 1


def test_warehouse_url_env_wins(monkeypatch):
    from schoolcx.warehouse import warehouse_url

    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://u:p@db.example:5432/x")
    assert warehouse_url() == "postgresql://u:p@db.example:5432/x"


def test_url_parts_and_sqlalchemy_url():
    from schoolcx.warehouse.connect import sqlalchemy_url, url_parts

    url = "postgresql://postgres:pw@127.0.0.1:5999/schoolcx"
    assert url_parts(url) == {
        "host": "127.0.0.1",
        "port": "5999",
        "user": "postgres",
        "password": "pw",
        "dbname": "schoolcx",
    }
    assert sqlalchemy_url(url).startswith("postgresql+psycopg://postgres:pw@")


def test_cli_warehouse_up_url_down(tmp_path, monkeypatch, capsys):
    from schoolcx.cli import main

    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("SCHOOLCX_HOME", str(tmp_path))
    with pytest.raises(RuntimeError, match="not running"):
        main(["warehouse", "url"])
    try:
        assert main(["warehouse", "up"]) == 0
        assert "migrations applied now" in capsys.readouterr().out
        assert main(["warehouse", "url"]) == 0
        url = capsys.readouterr().out.strip()
        with psycopg.connect(url) as conn:
            assert conn.execute("select count(*) from ops.schema_migrations").fetchone()[0] >= 3
    finally:
        assert main(["warehouse", "down"]) == 0
    assert "stopped" in capsys.readouterr().out


def test_migration_0031_indexes_raw_audits_by_ticket_on_an_existing_warehouse(warehouse):
    """The index stg_zendesk__ticket_child_events' reader looks tickets up by: on a fresh
    warehouse (the fixture migrated it), on one from before it with audits already landed, and
    harmless where the raw table is not there."""
    index = "zendesk_ticket_events_ticket_idx"

    def defined() -> str | None:
        with psycopg.connect(warehouse) as conn:
            row = conn.execute(
                "select indexdef from pg_indexes where schemaname = 'raw' and indexname = %s",
                (index,),
            ).fetchone()
        return row and row[0]

    assert "(source_instance, ((payload ->> 'ticket_id'::text)))" in defined()
    with psycopg.connect(warehouse) as conn:
        conn.execute(f"drop index raw.{index}")
        conn.execute("delete from ops.schema_migrations where version like '0031%'")
        conn.execute(
            "insert into raw.zendesk_ticket_events (source_system, source_instance, district_id,"
            " source_id, updated_at, payload, _batch_id) values ('zendesk', 'zd', 'd1', '77',"
            " now(), '{\"ticket_id\": 5, \"child_events\": []}', 'b1')"
        )
    assert migrate(warehouse) == ["0031_raw_ticket_events_by_ticket.sql"]
    assert defined() is not None
    with psycopg.connect(warehouse) as conn:
        conn.execute("drop table raw.zendesk_ticket_events")
        conn.execute("delete from ops.schema_migrations where version like '0031%'")
    assert migrate(warehouse) == ["0031_raw_ticket_events_by_ticket.sql"]
    assert defined() is None
