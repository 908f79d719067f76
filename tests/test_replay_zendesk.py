"""Zendesk pages in the shapes real accounts send, replayed through the connector and staging.

The pages in tests/fixtures/recorded/zendesk/ reproduce what recorded responses show (see
SOURCES.md there): a cursor ticket export where most tickets came in through the API and a
deleted ticket sits among live ones, a list page whose `links.next` is set while
`meta.has_more` is false, and a ticket events page without `end_of_stream` whose comments come
in the compact form (`comment_present`, `comment_public`, no author, no body). A local server
(127.0.0.1) serves each body at its path; the real connector lands it with the real RawWriter,
and dbt builds staging and the interaction model over it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from schoolcx.connections import Connection
from schoolcx.connectors.base import ConnectorContext
from schoolcx.connectors.http import RetryPolicy
from schoolcx.connectors.zendesk import EVENTS_PATH, TICKETS_PATH, ZendeskConnector
from schoolcx.load import packing
from schoolcx.load.raw_writer import RawWriter
from schoolcx.paths import DBT_PROJECT_DIR
from schoolcx.refsync import sync_config
from schoolcx.sandbox.emulators.replay import ReplayServer
from schoolcx.warehouse.connect import url_parts
from tests import fixture_dbt_core as fx

RECORDED = Path(__file__).parent / "fixtures" / "recorded" / "zendesk"
TICKETS = RECORDED / "incremental_tickets_cursor.json"
# the same page as the export answers include=metric_sets (a `metric_sets` array beside tickets)
TICKETS_METRICS = RECORDED / "incremental_tickets_cursor_metric_sets.json"
EVENTS = RECORDED / "incremental_ticket_events.json"
GROUPS = RECORDED / "groups_page.json"
SOURCE = "lincoln-zendesk"  # a zendesk source of the dbt core fixture's config
UNTIL = dt.datetime(2025, 10, 1, tzinfo=dt.UTC)
DBT = str(Path(sys.executable).with_name("dbt"))


def _recorded(path: Path) -> dict:
    return json.loads(path.read_text())


def _replay(tickets: Path = TICKETS) -> ReplayServer:
    return ReplayServer(
        {
            TICKETS_PATH: tickets,
            EVENTS_PATH: EVENTS,
            "/api/v2/groups": GROUPS,
        }
    )


def _land(url: str, server: ReplayServer):
    district, source = fx.config().source(SOURCE)
    conn = Connection("zd", "http", server.url, login="api@lincoln.example", password="replay-tk")
    connector = ZendeskConnector(
        ConnectorContext(district, source, conn),
        policy=RetryPolicy(base_delay=0.01, max_delay=0.05),
        sleep=lambda s: None,
        streams=("groups", "tickets", "ticket_events"),
    )
    with RawWriter(
        url,
        source_instance=SOURCE,
        source_type="zendesk",
        district_id=district.district_id,
        run_id="replay",
    ) as writer:
        return writer.write_pages(connector.pages(writer.state(), UNTIL))


def _count(url: str, sql: str, *params) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchone()[0]


def test_recorded_pages_land_whole_and_paging_stops_where_the_recording_says(warehouse):
    tickets, events = _recorded(TICKETS), _recorded(EVENTS)
    assert "end_of_stream" not in events  # the shape under test
    groups = _recorded(GROUPS)
    assert groups["meta"]["has_more"] is False and groups["links"]["next"]
    with _replay() as server:
        summary = _land(warehouse, server)
        # has_more false ends the list even though links.next points somewhere
        assert len(server.requests_to("/api/v2/groups")) == 1
        # an events page without end_of_stream, shorter than the page asked for, is the end
        assert len(server.requests_to(EVENTS_PATH)) == 1
        assert len(server.requests_to(TICKETS_PATH)) == 1
    assert summary.quarantined_total == 0
    n_tickets = len(tickets["tickets"])
    assert _count(warehouse, "select count(*) from raw.zendesk_tickets") == n_tickets
    assert _count(warehouse, "select count(*) from raw.zendesk_groups") == len(groups["groups"])
    assert _count(warehouse, "select count(*) from raw.zendesk_ticket_events") == events["count"]
    deleted = [t["id"] for t in tickets["tickets"] if t["status"] == "deleted"]
    assert deleted and _count(
        warehouse, "select count(*) from raw.zendesk_tickets where payload->>'status' = 'deleted'"
    ) == len(deleted)


def _dbt(url: str, tmp: Path, *select: str) -> None:
    env = {
        **os.environ,
        **{f"SCHOOLCX_PG_{k.upper()}": v for k, v in url_parts(url).items()},
        "SCHOOLCX_DBT_THREADS": "2",
        "DBT_TARGET_PATH": str(tmp / "target"),
        "DBT_LOG_PATH": str(tmp / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }
    cmd = [
        DBT,
        "run",
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--vars",
        "{as_of_date: '2025-09-30'}",
        "--select",
        *select,
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


@pytest.fixture(scope="module")
def staged(module_warehouse, tmp_path_factory):
    url = module_warehouse
    sync_config(url, fx.config(), today=dt.date(2025, 9, 30))
    with _replay() as server:
        _land(url, server)
    _dbt(url, tmp_path_factory.mktemp("replay_dbt"), "+int_interactions_unioned")
    return url


def _rows(url: str, sql: str) -> dict[str, tuple]:
    with psycopg.connect(url) as conn:
        return {r[0]: r[1:] for r in conn.execute(sql).fetchall()}


def test_compact_comment_events_give_the_replies_they_record(staged):
    events = _recorded(EVENTS)["ticket_events"]
    # what the page records, worked out from it: a compact comment is public when
    # comment_public says so, and its author is the event's updater
    public_by_agent = {
        str(e["ticket_id"]): e["created_at"]
        for e in events
        for c in e["child_events"]
        if c.get("comment_public") and e["updater_id"] == 360100008001
    }
    assert public_by_agent == {"505": "2025-09-09T14:30:00Z", "504": "2025-09-10T11:00:00Z"}
    activity = _rows(
        staged,
        "select ticket_id, is_opened_by_agent, first_response_at, agent_response_count"
        " from int.int_zendesk__ticket_activity",
    )
    at = dt.datetime.fromisoformat
    assert activity == {
        "501": (False, None, 0),  # only the requester's own comment
        "502": (False, None, 0),  # the agent's compact comment is private
        # opened by the agent at creation (a call logged on the web form): the opening comment
        # is no response, the agent's next public comment is
        "504": (True, at("2025-09-10T11:00:00+00:00"), 1),
        "505": (False, at("2025-09-09T14:30:00+00:00"), 1),
    }
    publics = _count(
        staged,
        "select count(*) from stg.stg_zendesk__ticket_child_events where is_comment and is_public",
    )
    assert publics == sum(1 for e in events for c in e["child_events"] if c.get("comment_public"))


def test_deleted_ticket_is_no_interaction_and_api_tickets_keep_their_channel(staged):
    tickets = _recorded(TICKETS)["tickets"]
    live = {str(t["id"]) for t in tickets if t["status"] != "deleted"}
    unioned = _rows(
        staged,
        f"select source_id, 1 from int.int_interactions_unioned where source_instance = '{SOURCE}'",
    )
    assert set(unioned) == live
    via = _rows(staged, "select ticket_id, via_channel from stg.stg_zendesk__tickets")
    assert {k: v[0] for k, v in via.items()} == {str(t["id"]): t["via"]["channel"] for t in tickets}
    assert sum(1 for t in tickets if t["via"]["channel"] == "api") == 4


def test_side_loaded_metric_sets_land_on_their_tickets_and_stage_as_vendor_minutes(
    warehouse, tmp_path
):
    """The export's `metric_sets` array (include=metric_sets) is matched to its tickets by
    ticket_id and lands inside each ticket's payload as `metric_set`; staging reads Zendesk's
    own first reply minutes from it, null while Zendesk counts no reply. A deleted ticket has
    no metric set and lands with none."""
    page = _recorded(TICKETS_METRICS)
    sets = {m["ticket_id"]: m for m in page["metric_sets"]}
    assert all(set(m["reply_time_in_minutes"]) == {"calendar", "business"} for m in sets.values())
    url = warehouse
    sync_config(url, fx.config(), today=dt.date(2025, 9, 30))
    with _replay(TICKETS_METRICS) as server:
        _land(url, server)
        asked = server.requests_to(TICKETS_PATH)
    assert asked and all("include=metric_sets" in q for q in asked)
    with psycopg.connect(url) as conn:  # the whole records: staging's projection keeps 4 fields
        landed = packing.select_whole(
            conn, "select source_id, payload, payload_z, payload_dict from raw.zendesk_tickets"
        )
    landed = {source_id: payload.get("metric_set") for source_id, payload in landed}
    for t in page["tickets"]:
        assert landed[str(t["id"])] == sets.get(t["id"])  # None for the deleted ticket
    _dbt(url, tmp_path, "+stg_zendesk__tickets")
    staged = _rows(
        url,
        "select ticket_id, zendesk_reply_business_minutes, zendesk_reply_calendar_minutes,"
        " zendesk_replies from stg.stg_zendesk__tickets",
    )
    expected = {
        str(tid): (
            m["reply_time_in_minutes"]["business"],
            m["reply_time_in_minutes"]["calendar"],
            m["replies"],
        )
        for tid, m in sets.items()
    }
    expected["503"] = (None, None, None)  # deleted: no metric set
    assert {k: tuple(None if v is None else int(v) for v in r) for k, r in staged.items()} == (
        expected
    )
    # the agent-opened ticket: 60 calendar minutes, all before the 07:30 open: 0 business
    assert staged["504"][:2] == (0, 60)
