"""Shared by the tests/test_faults_*.py files: small worlds, a second warehouse, raw snapshots
and an extract run in a real child process (the way a worker runs it, so it can be killed)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg

from schoolcx.connections import connection_json
from schoolcx.load import packing
from schoolcx.orchestration import RAW_TABLES
from schoolcx.paths import PROJECT_ROOT
from schoolcx.sandbox.demo.world import Event, Interaction, Person, Rating, World
from schoolcx.warehouse import migrate

UTC = dt.UTC
ZD_SOURCE = "d1-zendesk"
DISTRICT = "1700001"
DOMAIN = "lincoln.k12.il.us"

# The extract a worker runs for one source, in its own interpreter: config and connection come
# the way they come in production (a config file, AIRFLOW_CONN_* in the environment).
CHILD = """
import datetime as dt, json, logging, sys
from schoolcx.config import DeploymentConfig
from schoolcx.extract import extract_source
logging.basicConfig(level=logging.WARNING)
config, url, source, run_id, until = sys.argv[1:6]
cfg = DeploymentConfig.model_validate(json.load(open(config)))
extract_source(url, cfg, source, run_id=run_id, until=dt.datetime.fromisoformat(until))
"""


def fresh_warehouse(pg_server: str) -> str:
    """Another migrated database on the session's server (for a clean reference extract)."""
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    url = pg_server.rsplit("/", 1)[0] + "/" + name
    migrate(url)
    return url


def raw_rows(url: str, tables: tuple[str, ...]) -> dict[str, list[tuple]]:
    """table -> every landed version (source_id, updated_at, whole payload as text), sorted.
    Positions, batch ids and load times differ between runs by design; the record versions must
    not. The whole record (payload_z unpacked): two warehouses' dictionaries may differ."""
    out = {}
    with psycopg.connect(url) as conn:
        for t in tables:
            out[t] = [
                (si, sid, at, _text(whole), person)
                for si, sid, at, person, whole in packing.select_whole(
                    conn,
                    f"select source_instance, source_id, updated_at, person_hash,"
                    f" payload, payload_z, payload_dict from raw.{t} order by 1, 2, 3",
                )
            ]
    return out


def _text(record) -> str:
    return json.dumps(record, sort_keys=True)


def latest_rows(url: str, tables: tuple[str, ...]) -> dict[str, list[tuple]]:
    """table -> the newest version of every record (what staging reads)."""
    out = {}
    with psycopg.connect(url) as conn:
        for t in tables:
            out[t] = [
                (si, sid, _text(whole))
                for si, sid, whole in packing.select_whole(
                    conn,
                    f"select distinct on (source_instance, source_id) source_instance, source_id,"
                    f" payload, payload_z, payload_dict from raw.{t}"
                    f" order by source_instance, source_id, updated_at desc",
                )
            ]
    return out


def write_config(path: Path, cfg: dict) -> Path:
    path.write_text(json.dumps(cfg, default=str))
    return path


def child_env(conn_id: str, connection: dict) -> dict[str, str]:
    env = {**os.environ, f"AIRFLOW_CONN_{conn_id.upper()}": connection_json(**connection)}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PROJECT_ROOT / "plugins"), env.get("PYTHONPATH", "")) if p
    )
    return env


def run_child(config: Path, url: str, source: str, run_id: str, until, env) -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(config), url, source, run_id, until.isoformat()],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]


def committed_pages(url: str, source: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select coalesce(sum(pages), 0) from ops.extract_runs where source_instance = %s",
            (source,),
        ).fetchone()
    return int(row[0])


def kill_after_pages(
    config: Path, url: str, source: str, until, env, pages: int, timeout: float = 120.0
) -> int:
    """Start the extract in a child process and SIGKILL it once `pages` pages are committed
    (watching ops.extract_runs from here, as an operator would). Returns the pages committed
    when it died; fails when the child finished before it could be killed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(config), url, source, "killed", until.isoformat()],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + timeout
    try:
        while committed_pages(url, source) < pages:
            assert proc.poll() is None, f"the extract ended before it was killed: {proc.stderr}"
            assert time.monotonic() < deadline, "the extract never reached the kill point"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, proc.returncode
    return committed_pages(url, source)


# ---- a small Zendesk world ------------------------------------------------------------------

_ids = itertools.count(1)
AGENT = Person(10, f"ana.agent@{DOMAIN}", "Ana Agent", "agent")
SYSTEM = Person(0, "system@zendesk", "Zendesk", "system")


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, minute, tzinfo=UTC)


def zd_ticket(tid: int, created: dt.datetime, answered: bool = True, rated: bool = False):
    requester = Person(100 + tid, f"parent{tid}@example.org", f"Parent {tid}", "parent")
    events = [Event(created + dt.timedelta(minutes=1), "auto_reply", SYSTEM, None, next(_ids))]
    if answered:
        events += [
            Event(created + dt.timedelta(hours=2), "agent_reply", AGENT, None, next(_ids)),
            Event(created + dt.timedelta(hours=2), "status", AGENT, "open", next(_ids)),
            Event(created + dt.timedelta(days=1), "status", AGENT, "solved", next(_ids)),
        ]
    ratings = [Rating(created + dt.timedelta(days=2), "good_bad", "good")] if rated else []
    return Interaction(
        interaction_id=tid,
        district_id=DISTRICT,
        source_name=ZD_SOURCE,
        created_at=created,
        subject=f"Ticket {tid}",
        channel=("email", "web", "phone")[tid % 3],
        topic="transportation",
        tags=["bus"],
        priority="normal",
        requester=requester,
        assignee=AGENT,
        group="Transportation",
        organization="Lincoln Elementary",
        events=events,
        ratings=ratings,
    )


def zd_world(n: int = 12) -> World:
    """n tickets over September, one every two days; every third unanswered, every fourth
    rated."""
    tickets = [
        zd_ticket(t, at(9, 1 + 2 * (t - 1) % 28, 8 + t % 8), t % 3 != 0, t % 4 == 0)
        for t in range(1, n + 1)
    ]
    return World(
        as_of=dt.date(2025, 9, 30),
        people=[AGENT, SYSTEM] + [t.requester for t in tickets],
        interactions=tickets,
        survey_responses=[],
        config_yaml="",
    )


def _one_district(*sources: dict, **district) -> dict:
    """A deployment config of one district (Lincoln) holding `sources`."""
    return {
        "name": "faults",
        "districts": [
            {
                "district_id": DISTRICT,
                "name": "Lincoln",
                "state": "IL",
                "timezone": "America/Chicago",
                "enrollment": {2026: 5000},
                **district,
                "sources": list(sources),
            }
        ],
    }


def zd_config(**options) -> dict:
    return _one_district(
        {
            "name": ZD_SOURCE,
            "type": "zendesk",
            "conn_id": "zd_d1",
            "start_date": "2025-08-01",
            "options": options,
        }
    )


IMAP_SOURCE = "d1-mail"
MAILBOX = "help@lincoln.k12.il.us"


def imap_config(**options) -> dict:
    """One IMAP source on MAILBOX; `options` beside its mailbox address."""
    return _one_district(
        {
            "name": IMAP_SOURCE,
            "type": "imap",
            "conn_id": "d1_mail",
            "start_date": "2025-08-01",
            "options": {"mailbox_address": MAILBOX, **options},
        },
        mail_domains=["lincoln.k12.il.us"],
    )


ZD_TABLES = tuple(t for t in RAW_TABLES if t.startswith("zendesk_"))
