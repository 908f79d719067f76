"""Freshdesk pages in the shapes recorded responses show, replayed through the connector.

tests/fixtures/recorded/freshdesk/ reproduces the shapes of the sample responses a Freshdesk
client library records (see SOURCES.md there): an older account's ticket with v1-style keys
(`custom_field`, `ticket_type`) and local-offset timestamps beside a v2 ticket with `stats` and
a `requester` object; conversations with a private note and a reply whose `from_email` is
"Name <address>". A local server (127.0.0.1) serves each body at its path, the real connector
lands it with the real RawWriter.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import psycopg

from schoolcx.connections import Connection
from schoolcx.connectors.base import ConnectorContext
from schoolcx.connectors.freshdesk import FreshdeskConnector
from schoolcx.connectors.http import RetryPolicy
from schoolcx.connectors.records import parse_time
from schoolcx.load import packing
from schoolcx.load.raw_writer import RawWriter
from schoolcx.sandbox.emulators.replay import ReplayServer
from tests import fixture_dbt_core as fx

RECORDED = Path(__file__).parent / "fixtures" / "recorded" / "freshdesk"
SOURCE = "harbor-fd"  # a freshdesk source of the dbt core fixture's config (start 2025-08-01)
UNTIL = dt.datetime(2025, 9, 1, tzinfo=dt.UTC)


def _land(url: str, server: ReplayServer):
    district, source = fx.config().source(SOURCE)
    conn = Connection("fd", "http", server.url, login="replay-key", password="X")
    connector = FreshdeskConnector(
        ConnectorContext(district, source, conn),
        policy=RetryPolicy(base_delay=0.01, max_delay=0.05),
        sleep=lambda s: None,
        streams=("tickets",),
    )
    with RawWriter(
        url,
        source_instance=SOURCE,
        source_type="freshdesk",
        district_id=district.district_id,
        run_id="replay",
    ) as writer:
        return writer.write_pages(connector.pages(writer.state(), UNTIL))


def test_recorded_tickets_and_conversations_land_whole(warehouse):
    tickets = json.loads((RECORDED / "tickets.json").read_text())
    convs = {
        t["id"]: json.loads((RECORDED / f"conversations_{t['id']}.json").read_text())
        for t in tickets
    }
    routes = {"/api/v2/tickets": RECORDED / "tickets.json"}
    routes |= {
        f"/api/v2/tickets/{tid}/conversations": RECORDED / f"conversations_{tid}.json"
        for tid in convs
    }
    with ReplayServer(routes) as server:
        summary = _land(warehouse, server)
        asked = server.requests_to("/api/v2/tickets")
    assert summary.quarantined_total == 0
    assert asked and all("include=stats" in q for q in asked)
    with psycopg.connect(warehouse) as conn:
        landed = dict(
            conn.execute("select source_id, updated_at from raw.freshdesk_tickets").fetchall()
        )
        conversations = {  # from_email: in the whole record (staging does not read it)
            source_id: payload["from_email"]
            for source_id, payload in packing.select_whole(
                conn,
                "select source_id, payload, payload_z, payload_dict"
                " from raw.freshdesk_conversations",
            )
        }
    # every ticket once per version, its version the instant its local-offset timestamp names
    assert landed == {str(t["id"]): parse_time(t["updated_at"]) for t in tickets}
    assert landed["71"] == dt.datetime(2025, 8, 5, 0, 58, 39, tzinfo=dt.UTC)
    assert conversations == {str(c["id"]): c["from_email"] for cs in convs.values() for c in cs}
