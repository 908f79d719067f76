"""Helpdesk channels and Freshdesk custom statuses through config maps, the account's ticket
fields and staging (docs/metrics.md "Channel"): real connector, emulator, PostgreSQL and dbt.

Freshdesk tickets are extracted from the emulator (its ticket fields list custom sources and
statuses); Zendesk tickets are written in the landing shape (docs/landing.md). The staging
models are then built with dbt and every ticket's channel and status is checked by hand.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

from schoolcx.config import DeploymentConfig
from schoolcx.paths import DBT_PROJECT_DIR
from schoolcx.refsync import sync_config
from schoolcx.sandbox.emulators import freshdesk as fd_emulator
from schoolcx.warehouse.connect import url_parts
from tests.test_freshdesk import CONFIG, SOURCE, UNTIL, _ticket, at, extract, make_world

DBT = str(Path(sys.executable).with_name("dbt"))
# the ticket models and everything they read (ref views, ticket fields)
MODELS = ["+stg_freshdesk__tickets", "+stg_zendesk__tickets", "+int_interactions_unioned"]


def deployment() -> dict:
    cfg = copy.deepcopy(CONFIG)
    fd = cfg["districts"][0]["sources"][0]
    # 103 by its label, 11 (e-commerce, built-in other) by its code; status 6 by code, 7 by label
    fd["channel_map"] = {"Front Desk": "walk_in", 11: "web"}
    fd["options"] = {"status_map": {6: "solved", "Waiting on Third Party": "pending"}}
    zendesk = {"type": "zendesk", "conn_id": "zd", "start_date": "2025-08-01"}
    cfg["districts"][0]["sources"] += [
        {**zendesk, "name": "zd-plain"},
        {**zendesk, "name": "zd-mapped", "channel_map": {"api": "email", "Carrier_Pigeon": "chat"}},
    ]
    return cfg


def raw_ticket(tid: int, *, source: int = 2, status: int = 2, stats: dict | None = None) -> dict:
    return {
        "id": tid,
        "created_at": "2025-11-02T00:00:00Z",
        "updated_at": f"2025-11-02T10:00:{tid % 60:02d}Z",
        "status": status,
        "priority": 2,
        "source": source,
        "tags": [],
        "custom_fields": {},
        "stats": stats or {},
    }


def zendesk_rows(conn, source_instance: str) -> None:
    for n, via in enumerate(["web", "api", "carrier_pigeon", "email"], start=1):
        payload = {
            "id": n,
            "created_at": "2025-11-02T00:00:00Z",
            "updated_at": "2025-11-02T00:00:00Z",
            "status": "open",
            "priority": "normal",
            "via": {"channel": via},
        }
        conn.execute(
            "insert into raw.zendesk_tickets (source_system, source_instance, district_id,"
            " source_id, updated_at, payload, _batch_id)"
            " values ('zendesk', %s, '1700002', %s, '2025-11-02T00:00:00Z', %s, 'test')",
            (source_instance, str(n), Jsonb(payload)),
        )


SOLVED_BY_STATUS_UPDATE = {"status_updated_at": "2025-11-03T09:30:00Z", "resolved_at": None}


def dbt_build(url: str, tmp: Path) -> dict:
    parts = url_parts(url)
    env = {
        **os.environ,
        **{f"SCHOOLCX_PG_{k.upper()}": v for k, v in parts.items()},
        "SCHOOLCX_DBT_THREADS": "2",
        "DBT_TARGET_PATH": str(tmp / "target"),
        "DBT_LOG_PATH": str(tmp / "logs"),
    }
    cmd = [DBT, "build", "--project-dir", str(DBT_PROJECT_DIR)]
    cmd += ["--profiles-dir", str(DBT_PROJECT_DIR), "--select", *MODELS]
    # only the selected models' own tests (not those of calendar models the selection skips)
    cmd += ["--indirect-selection", "cautious"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    return json.loads((tmp / "target" / "run_results.json").read_text())


@pytest.fixture
def staged(warehouse, tmp_path, monkeypatch):
    # the account lists two more custom sources and one more custom status
    monkeypatch.setitem(fd_emulator.SOURCE_CHOICES, "Front Desk", 103)
    monkeypatch.setitem(fd_emulator.SOURCE_CHOICES, "Carrier Pigeon", 104)
    monkeypatch.setitem(fd_emulator.STATUS_CHOICES, "8", ["On Hold (district)", "On hold"])
    # a label that is a status name is that status; one that only contains one is not
    monkeypatch.setitem(fd_emulator.STATUS_CHOICES, "9", [" resolved ", "Resolved"])
    monkeypatch.setitem(fd_emulator.STATUS_CHOICES, "10", ["Resolved - awaiting parent", "Open"])
    world = make_world()
    world.interactions.append(_ticket(7, at(11, 26), [], channel="walk_in"))
    sync_config(warehouse, DeploymentConfig.model_validate(deployment()))
    with fd_emulator.serve(world, [SOURCE]) as fd:
        fd.add_raw(SOURCE, "tickets", raw_ticket(20, source=103))
        fd.add_raw(SOURCE, "tickets", raw_ticket(21, source=104))
        fd.add_raw(SOURCE, "tickets", raw_ticket(22, source=105))  # listed nowhere
        fd.add_raw(SOURCE, "tickets", raw_ticket(23, source=11))
        # solved through config, no stats.resolved_at / closed_at: status_updated_at is when
        fd.add_raw(SOURCE, "tickets", raw_ticket(24, status=6, stats=SOLVED_BY_STATUS_UPDATE))
        fd.add_raw(SOURCE, "tickets", raw_ticket(25, status=7))
        fd.add_raw(SOURCE, "tickets", raw_ticket(26, status=8))
        fd.add_raw(SOURCE, "tickets", raw_ticket(27, status=9, stats=SOLVED_BY_STATUS_UPDATE))
        fd.add_raw(SOURCE, "tickets", raw_ticket(28, status=10))
        summary = extract(warehouse, fd, UNTIL)
    assert summary.quarantined_total == 0
    with psycopg.connect(warehouse) as conn:
        zendesk_rows(conn, "zd-plain")
        zendesk_rows(conn, "zd-mapped")
    dbt_build(warehouse, tmp_path)  # run_results.json stays in tmp_path / "target"
    return warehouse


def rows(url: str, sql: str) -> dict:
    with psycopg.connect(url) as conn:
        return {r[0]: tuple(r[1:]) for r in conn.execute(sql).fetchall()}


def test_freshdesk_channels_from_codes_labels_and_config(staged):
    got = rows(
        staged,
        "select ticket_id, vendor_channel, channel, is_channel_unmapped"
        " from stg.stg_freshdesk__tickets",
    )
    assert got == {
        "1": ("1", "email", False),
        "2": ("2", "web", False),
        "3": ("3", "phone", False),
        "4": ("7", "chat", False),
        "5": ("1", "email", False),
        "6": ("5", "social", False),
        "7": ("101", "walk_in", False),  # custom source labelled "Walk-in": names a channel
        "20": ("103", "walk_in", False),  # "Front Desk": config by label
        "21": ("104", "other", True),  # "Carrier Pigeon": listed, mapped by nothing
        "22": ("105", "other", True),  # not even listed
        "23": ("11", "web", False),  # built-in e-commerce (other) overridden by config code
        "24": ("2", "web", False),
        "25": ("2", "web", False),
        "26": ("2", "web", False),
        "27": ("2", "web", False),
        "28": ("2", "web", False),
    }


def test_freshdesk_custom_statuses_by_config_else_open(staged, tmp_path):
    got = rows(
        staged,
        "select ticket_id, status_code, status, is_status_unmapped from stg.stg_freshdesk__tickets",
    )
    assert {k: v for k, v in got.items() if int(k) >= 20} == {
        "20": (2, "open", False),
        "21": (2, "open", False),
        "22": (2, "open", False),
        "23": (2, "open", False),
        "24": (6, "solved", False),  # "Waiting on Customer": config by code
        "25": (7, "pending", False),  # "Waiting on Third Party": config by label
        "26": (8, "open", True),  # listed, not mapped: still being worked on, and counted
        "27": (9, "solved", False),  # label " resolved " is Freshdesk's name for solved
        "28": (10, "open", True),  # "Resolved - awaiting parent" only contains one: no guess
    }
    assert (got["1"], got["3"], got["4"]) == (
        (4, "solved", False),
        (5, "closed", False),
        (3, "pending", False),
    )
    # the warn test reports how many tickets count as open only because nothing maps them
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    (warned,) = [
        r for r in results if "stg_freshdesk__tickets_is_status_unmapped" in r["unique_id"]
    ]
    assert (warned["status"], warned["failures"]) == ("warn", 2)


def test_freshdesk_custom_solved_status_resolves_at_its_status_change(staged):
    """docs/metrics.md: resolved_at is when the ticket last entered solved/closed. A custom status
    mapped to solved has no stats.resolved_at / closed_at: stats.status_updated_at is that time."""
    got = rows(
        staged,
        "select source_id, status, resolved_at from int.int_interactions_unioned"
        " where source_system = 'freshdesk' and source_id in ('24', '25', '27')",
    )
    solved_at = dt.datetime(2025, 11, 3, 9, 30, tzinfo=dt.UTC)
    assert got == {
        "24": ("solved", solved_at),
        "25": ("pending", None),
        "27": ("solved", solved_at),
    }


def test_zendesk_api_is_other_unless_mapped_and_unknown_values_are_counted(staged):
    got = rows(
        staged,
        "select source_instance || ':' || ticket_id, via_channel, channel, is_channel_unmapped"
        " from stg.stg_zendesk__tickets",
    )
    assert got == {
        "zd-plain:1": ("web", "web", False),
        "zd-plain:2": ("api", "other", False),
        "zd-plain:3": ("carrier_pigeon", "other", True),
        "zd-plain:4": ("email", "email", False),
        "zd-mapped:1": ("web", "web", False),
        "zd-mapped:2": ("api", "email", False),
        "zd-mapped:3": ("carrier_pigeon", "chat", False),
        "zd-mapped:4": ("email", "email", False),
    }
