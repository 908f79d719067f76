"""A vendor that changes records while they are being paged (Zendesk, IMAP).

The change happens for real between two pages of a running extract (the emulator renders the
World afresh on every request; dovecot gets a real APPEND), and the result is compared with a
clean extract of the final state into another warehouse. Freshdesk and SurveyMonkey have their
own tests in their slices.
"""

from __future__ import annotations

import datetime as dt
import json

import psycopg
import pytest
import yaml

from schoolcx.config import DeploymentConfig
from schoolcx.connections import Connection
from schoolcx.connectors.base import ConnectorContext, ConnectorError
from schoolcx.connectors.http import RetryPolicy
from schoolcx.connectors.imap import ImapConnector
from schoolcx.connectors.zendesk import ZendeskConnector
from schoolcx.load.raw_writer import RawWriter
from schoolcx.sandbox.demo.world import Event
from schoolcx.sandbox.emulators import zendesk as zd_emulator
from schoolcx.sandbox.emulators.imap_server import deliver, deliver_world, start_dovecot
from tests.faults_support import (
    AGENT,
    DISTRICT,
    IMAP_SOURCE,
    MAILBOX,
    ZD_SOURCE,
    ZD_TABLES,
    at,
    fresh_warehouse,
    imap_config,
    latest_rows,
    raw_rows,
    zd_config,
    zd_world,
)

FAST = RetryPolicy(base_delay=0.01, max_delay=0.05)
UNTIL = dt.datetime(2025, 9, 30, 23, tzinfo=dt.UTC)


def _zd_extract(url, running, *, between=None):
    """Extract the Zendesk source; `between(stream, n)` runs after the n-th page of a stream
    is committed, while the extract is still paging."""
    cfg = DeploymentConfig.model_validate(zd_config(page_size=1))
    district, source = cfg.source(ZD_SOURCE)
    ctx = ConnectorContext(district, source, Connection("zd_d1", **running.connection(ZD_SOURCE)))
    connector = ZendeskConnector(ctx, policy=FAST, sleep=lambda s: None)

    def watched(pages):
        seen: dict[str, int] = {}
        for page in pages:
            yield page  # the writer commits it before asking for the next one
            seen[page.stream] = seen.get(page.stream, 0) + 1
            if between is not None:
                between(page.stream, seen[page.stream])

    with RawWriter(
        url, source_instance=ZD_SOURCE, source_type="zendesk", district_id=DISTRICT, run_id="p"
    ) as writer:
        return writer.write_pages(watched(connector.pages(writer.state(), UNTIL)))


def test_zendesk_ticket_updated_between_pages_lands_in_its_final_state(warehouse, pg_server):
    world = zd_world()
    first, later = world.interactions[0], world.interactions[-1]

    def update(stream, n):
        # After the 2nd tickets page: ticket 1 (already read) and the last ticket (not read
        # yet) are answered again; both move to the end of the export.
        if (stream, n) == ("tickets", 2):
            for t in (first, later):
                reply = Event(at(9, 30, 12), "agent_reply", AGENT, None, 9000 + t.interaction_id)
                t.events.append(reply)

    with zd_emulator.serve(world, [ZD_SOURCE]) as running:
        _zd_extract(warehouse, running, between=update)
        clean = fresh_warehouse(pg_server)
        _zd_extract(clean, running)
    got, expected = latest_rows(warehouse, ZD_TABLES), latest_rows(clean, ZD_TABLES)
    for table in ZD_TABLES:
        assert got[table] == expected[table], table
    tickets = {sid: json.loads(p) for _s, sid, p in got["zendesk_tickets"]}
    live = [sid for sid in tickets if int(sid) < zd_emulator.DELETED_ID_BASE]
    assert len(live) == len(world.interactions)  # beside the deleted twins the export carries
    for t in (first, later):
        assert tickets[str(t.interaction_id)]["updated_at"] == "2025-09-30T12:00:00Z"
    # The first version of ticket 1 stays in raw beside the final one (history is kept).
    with psycopg.connect(warehouse) as conn:
        versions = conn.execute(
            "select count(*) from raw.zendesk_tickets where source_id = %s",
            (str(first.interaction_id),),
        ).fetchone()[0]
    assert versions == 2


IMAP_CONFIG = yaml.safe_dump(imap_config(batch_size=2, ssl=False))


def _imap_extract(url, running, *, between=None):
    cfg = DeploymentConfig.model_validate(yaml.safe_load(IMAP_CONFIG))
    district, source = cfg.source(IMAP_SOURCE)
    conn = Connection("d1_mail", **running.connection(IMAP_SOURCE))
    ctx = ConnectorContext(district, source, conn, warehouse_url=url)

    def watched(pages):
        for n, page in enumerate(pages, start=1):
            yield page
            if between is not None:
                between(n)

    with RawWriter(
        url, source_instance=IMAP_SOURCE, source_type="imap", district_id=DISTRICT, run_id="p"
    ) as writer:
        return writer.write_pages(watched(ImapConnector(ctx).pages(writer.state(), UNTIL)))


@pytest.fixture
def mail_world():
    world = zd_world(8)
    for t in world.interactions:
        t.source_name, t.channel = IMAP_SOURCE, "email"
    world.config_yaml = IMAP_CONFIG
    return world


def _message(n: int, when: dt.datetime) -> bytes:
    return (
        f"From: Parent {n} <late{n}@example.org>\r\nTo: {MAILBOX}\r\n"
        f"Subject: Late question {n}\r\nDate: {when:%a, %d %b %Y %H:%M:%S +0000}\r\n"
        f"Message-ID: <late-{n}@example.org>\r\n\r\n(body)\r\n"
    ).encode()


def test_imap_message_arriving_while_fetching_is_landed_by_the_next_run(
    warehouse, pg_server, tmp_path, mail_world
):
    with start_dovecot(tmp_path / "imap", {MAILBOX: "pw"}, use_ssl=False) as running:
        deliver_world(running, mail_world, IMAP_SOURCE, MAILBOX)

        def arrive(n):
            if n == 2:  # two batches committed: new mail lands in the INBOX being read
                deliver(running, MAILBOX, "INBOX", _message(1, at(9, 29, 10)))

        first = _imap_extract(warehouse, running, between=arrive)
        second = _imap_extract(warehouse, running)
        clean = fresh_warehouse(pg_server)
        _imap_extract(clean, running)
    expected = raw_rows(clean, ("imap_messages",))
    assert raw_rows(warehouse, ("imap_messages",)) == expected
    ids = {r[1] for r in expected["imap_messages"]}
    assert any("late-1@example.org" in i for i in ids)
    # Whichever run saw it, it landed once: the two runs together land every message once.
    assert first.inserted + second.inserted == len(ids)


def test_imap_connection_kicked_mid_fetch_then_rerun_equals_clean(
    warehouse, pg_server, tmp_path, mail_world
):
    """dovecot drops the session (doveadm kick, as a server restart or an admin does) after
    two batches: the run fails, the rerun lands exactly the clean extract."""
    with start_dovecot(tmp_path / "imap", {MAILBOX: "pw"}, use_ssl=False) as running:
        deliver_world(running, mail_world, IMAP_SOURCE, MAILBOX)

        def kick(n):
            if n == 2:
                running.kick(MAILBOX)

        with pytest.raises(ConnectorError) as err:
            _imap_extract(warehouse, running, between=kick)
        partial = raw_rows(warehouse, ("imap_messages",))
        _imap_extract(warehouse, running)
        clean = fresh_warehouse(pg_server)
        _imap_extract(clean, running)
    expected = raw_rows(clean, ("imap_messages",))
    assert 0 < len(partial["imap_messages"]) < len(expected["imap_messages"])
    assert raw_rows(warehouse, ("imap_messages",)) == expected
    assert IMAP_SOURCE in str(err.value) and "IMAP session failed" in str(err.value)


def test_imap_connection_kicked_mid_fetch_names_the_source(warehouse, tmp_path, mail_world):
    with start_dovecot(tmp_path / "imap", {MAILBOX: "pw"}, use_ssl=False) as running:
        deliver_world(running, mail_world, IMAP_SOURCE, MAILBOX)
        with pytest.raises(ConnectorError) as err:
            # once, after the first batch: the next FETCH finds the session gone
            _imap_extract(warehouse, running, between=lambda n: n == 1 and running.kick(MAILBOX))
    assert IMAP_SOURCE in str(err.value) and "d1_mail" in str(err.value)
