"""Freshdesk connector against the Freshdesk emulator: real sockets, real PostgreSQL.

A small hand-made World is served, extracted through FreshdeskConnector into raw with the real
RawWriter; tests check what landed, what was quarantined and the request log.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest

from schoolcx.config import DeploymentConfig
from schoolcx.connections import Connection
from schoolcx.connectors.base import ConnectorContext, registry
from schoolcx.connectors.freshdesk import FreshdeskConnector
from schoolcx.connectors.http import AuthError, RetryPolicy
from schoolcx.load import packing
from schoolcx.load.packing import select_whole
from schoolcx.load.raw_writer import RawWriter, read_state
from schoolcx.sandbox.demo.world import Event, Interaction, Person, Rating, World
from schoolcx.sandbox.emulators import freshdesk as fd_emulator
from schoolcx.sandbox.emulators.http_base import Faults

SOURCE = "d2-freshdesk"
UTC = dt.UTC
FAST = RetryPolicy(base_delay=0.01, max_delay=0.05)
TABLES = (
    "freshdesk_tickets",
    "freshdesk_conversations",
    "freshdesk_contacts",
    "freshdesk_satisfaction_ratings",
    "freshdesk_surveys",
    "freshdesk_ticket_fields",
)


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, minute, tzinfo=UTC)


_ids = itertools.count(1)
AGENT = Person(20, "cy.agent@jefferson.k12.il.us", "Cy Agent", "agent")
SYSTEM = Person(0, "system@freshdesk", "Freshdesk", "system")


def _ticket(
    tid: int,
    created: dt.datetime,
    events: list[tuple],
    *,
    channel="email",
    ratings=(),
    opened_by_agent=False,
    locale="en",
) -> Interaction:
    requester = Person(200 + tid, f"Guardian{tid}@Example.org", f"Guardian {tid}", "parent", locale)
    evs = [
        Event(t, kind, requester if who == "req" else who, status, next(_ids))
        for t, kind, who, status in events
    ]
    return Interaction(
        interaction_id=tid,
        district_id="1700002",
        source_name=SOURCE,
        created_at=created,
        subject=f"Ticket {tid}",
        channel=channel,
        topic="enrollment",
        tags=["enroll"],
        priority="normal",
        requester=requester,
        assignee=AGENT,
        group="Enrollment",
        organization="Jefferson High",
        opened_by_agent=opened_by_agent,
        events=evs,
        ratings=list(ratings),
    )


def make_world() -> World:
    """Tickets from September (older than Freshdesk's 30-day default) to late November."""
    tickets = [
        _ticket(
            1,
            at(9, 2),
            [(at(9, 2, 11), "agent_reply", AGENT, None), (at(9, 3), "status", AGENT, "solved")],
            ratings=[Rating(at(9, 4), "1-5", 4)],
        ),
        _ticket(
            2,
            at(9, 20),
            [
                (at(9, 20, 10), "auto_reply", SYSTEM, None),
                (at(9, 21), "agent_note", AGENT, None),
                (at(9, 22), "agent_reply", AGENT, None),
            ],
            channel="web",
            locale="es",
        ),
        _ticket(
            3,
            at(10, 6),
            [
                (at(10, 6), "agent_reply", AGENT, None),
                (at(10, 7), "requester_reply", "req", None),
                (at(10, 8), "agent_reply", AGENT, None),
                (at(10, 8, 10), "status", AGENT, "closed"),
            ],
            channel="phone",
            opened_by_agent=True,
            ratings=[Rating(at(10, 9), "good_bad", "good")],
        ),
        _ticket(
            4,
            at(10, 28),
            [
                (at(10, 29), "agent_reply", AGENT, None),
                (at(10, 29, 12), "status", AGENT, "pending"),
            ],
            channel="chat",
        ),
        _ticket(5, at(11, 10), [(at(11, 10, 13), "requester_reply", "req", None)]),
        _ticket(6, at(11, 25), [], channel="social"),
    ]
    people = [AGENT, SYSTEM] + [t.requester for t in tickets]
    return World(
        as_of=dt.date(2025, 11, 30),
        people=people,
        interactions=tickets,
        survey_responses=[],
        config_yaml="",
    )


CONFIG = {
    "name": "test",
    "districts": [
        {
            "district_id": "1700002",
            "name": "Jefferson",
            "state": "IL",
            "timezone": "America/Chicago",
            "enrollment": {2026: 8000},
            "sources": [
                {
                    "name": SOURCE,
                    "type": "freshdesk",
                    "conn_id": "fd_d2",
                    "start_date": "2025-08-01",
                    "options": {},
                }
            ],
        }
    ],
}
UNTIL = at(11, 30, 23)


def make_ctx(running, password=None, **options) -> ConnectorContext:
    cfg = json.loads(json.dumps(CONFIG))
    cfg["districts"][0]["sources"][0]["options"] = options
    district, source = DeploymentConfig.model_validate(cfg).source(SOURCE)
    conn = running.connection(SOURCE)
    if password is not None:
        conn["password"] = password
    return ConnectorContext(district, source, Connection("fd_d2", **conn))


def extract(
    url, running, until, *, fail_after=None, sleep=None, password=None, observe=None, **options
):
    connector = FreshdeskConnector(
        make_ctx(running, password, **options), policy=FAST, sleep=sleep or (lambda s: None)
    )
    with RawWriter(
        url, source_instance=SOURCE, source_type="freshdesk", district_id="1700002", run_id="t"
    ) as writer:
        pages = connector.pages(writer.state(), until)
        if fail_after is not None:
            pages = _crash_after(pages, fail_after)
        if observe is not None:
            observe.append(connector)
        return writer.write_pages(pages)


def _crash_after(pages, k):
    for n, page in enumerate(pages):
        if n == k:
            raise ConnectionError("worker killed between pages")
        yield page


def counts(url) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {t: conn.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in TABLES}


def checksum(url) -> tuple:
    with psycopg.connect(url) as conn:
        return tuple(
            conn.execute(
                f"select count(*), md5(coalesce(string_agg(source_id || updated_at::text"
                f" || payload::text || coalesce(encode(payload_z, 'hex'), ''),"
                f" ',' order by source_id, updated_at), ''))"
                f" from raw.{t}"
            ).fetchone()
            for t in TABLES
        )


def expected_counts(world) -> dict[str, int]:
    r = fd_emulator.render(world, SOURCE)
    return {f"freshdesk_{k}": len(v) for k, v in r.items()}


@pytest.fixture
def world():
    return make_world()


@pytest.fixture
def fd(world):
    with fd_emulator.serve(world, [SOURCE]) as running:
        yield running


def test_registry_finds_the_connector():
    assert registry()["freshdesk"] is FreshdeskConnector


def test_emulator_defaults_to_30_days_without_updated_since(world, fd):
    """So a connector that forgets updated_since loses tickets, and these tests would see it."""
    url = f"{fd.connection(SOURCE)['host']}/api/v2/tickets"
    default = httpx.get(url, auth=(fd.api_key, "X")).json()
    assert [t["id"] for t in default] == [6, 5]  # created in the last 30 days, newest first
    assert "stats" not in default[0]
    assert httpx.get(url, auth=("wrong", "X")).status_code == 401


def test_full_load_lands_every_stream_in_the_contract_shape(warehouse, world, fd):
    summary = extract(warehouse, fd, UNTIL)
    assert counts(warehouse) == expected_counts(world)
    assert summary.quarantined_total == 0
    with psycopg.connect(warehouse) as conn:
        t3 = conn.execute(
            "select payload from raw.freshdesk_tickets where source_id = '3'"
        ).fetchone()[0]
        assert (t3["status"], t3["source"]) == (5, 3)
        assert t3["stats"]["first_responded_at"] == "2025-10-08T09:00:00Z"  # opener excluded
        assert t3["stats"]["closed_at"] == "2025-10-08T10:00:00Z"
        convs = conn.execute(
            "select payload->>'incoming', payload->>'private', count(*)"
            " from raw.freshdesk_conversations group by 1, 2 order by 1, 2"
        ).fetchall()
        assert convs == [("false", "false", 4), ("false", "true", 1), ("true", "false", 2)]
        contacts = conn.execute(
            "select payload->>'language', person_hash from"
            " raw.freshdesk_contacts order by source_id"
        ).fetchall()
        assert [c[0] for c in contacts] == ["en", "es", "en", "en", "en", "en"]
        assert all(len(c[1]) == 64 for c in contacts)
        ratings = conn.execute(
            "select payload->'ratings'->>'default_question'"
            " from raw.freshdesk_satisfaction_ratings order by source_id"
        ).fetchall()
        assert ratings == [("102",), ("103",)]
        state = read_state(conn, SOURCE)
    assert state["tickets"] == {"updated_since": "2025-11-30T23:00:00Z"}
    assert set(state) == {"surveys", "satisfaction_ratings", "contacts", "ticket_fields", "tickets"}


def test_rerun_is_idempotent(warehouse, fd):
    extract(warehouse, fd, UNTIL)
    before = checksum(warehouse)
    again = extract(warehouse, fd, UNTIL)
    assert again.inserted == 0
    assert checksum(warehouse) == before


def test_incremental_run_lands_exactly_the_new_versions(warehouse, world, fd):
    extract(warehouse, fd, UNTIL)
    first = counts(warehouse)
    world.as_of = dt.date(2025, 12, 1)
    fd.now = fd_emulator.world_now(world)
    world.interactions[5].events.append(Event(at(12, 1, 8), "agent_reply", AGENT, None, next(_ids)))
    world.interactions.append(_ticket(7, at(12, 1, 9), []))
    summary = extract(warehouse, fd, at(12, 1, 23))
    after = counts(warehouse)
    assert after["freshdesk_tickets"] - first["freshdesk_tickets"] == 2
    assert after["freshdesk_conversations"] - first["freshdesk_conversations"] == 1
    assert after["freshdesk_contacts"] - first["freshdesk_contacts"] == 1
    assert after["freshdesk_ticket_fields"] - first["freshdesk_ticket_fields"] == 4  # snapshot
    assert summary.inserted == 4 + 4


def test_crash_between_pages_then_resume_lands_exact_counts(warehouse, world, fd):
    with pytest.raises(ConnectionError):
        extract(warehouse, fd, UNTIL, fail_after=20, per_page=1)
    partial = counts(warehouse)
    assert 0 < partial["freshdesk_tickets"] < len(world.interactions)
    extract(warehouse, fd, UNTIL, per_page=1)
    assert counts(warehouse) == expected_counts(world)


def test_429_with_retry_after_and_500_are_retried(warehouse, world):
    faults = Faults(
        plan={1: "rate_limit", 2: "error_500"}, path_contains="/api/v2/tickets", retry_after=0.05
    )
    slept = []
    with fd_emulator.serve(world, [SOURCE], faults) as running:
        extract(warehouse, running, UNTIL, sleep=slept.append)
        log = [s for _m, p, s in running.server.requests if "/api/v2/tickets" in p]
    assert log[:3] == [429, 500, 200]
    assert slept[0] == pytest.approx(0.05)
    assert counts(warehouse) == expected_counts(world)


def test_401_fails_at_once_naming_the_connection_never_the_secret(warehouse, world):
    with fd_emulator.serve(world, [SOURCE]) as running:
        with pytest.raises(AuthError) as err:
            extract(warehouse, running, UNTIL, password="revoked-api-key")
        assert len(running.server.requests) == 1
    assert "fd_d2" in str(err.value) and "revoked-api-key" not in str(err.value)


def test_truncated_page_is_fetched_again(warehouse, world):
    faults = Faults(plan={1: "truncate"}, path_contains="/api/v2/tickets")
    with fd_emulator.serve(world, [SOURCE], faults) as running:
        extract(warehouse, running, UNTIL)
        first_two = [p for _m, p, _s in running.server.requests if "/api/v2/tickets" in p][:2]
    assert first_two[0] == first_two[1]  # the same page asked for again
    assert counts(warehouse) == expected_counts(world)


def test_paging_by_key_never_reaches_the_page_cap(warehouse, world):
    """page_cap=2 with per_page=2 plays Freshdesk's 300 x 100: one 120-day window holds six
    tickets, more than two pages. Paged by key (page 1 of updated_since = the newest second
    read), the window never asks for page 2, let alone the refused page 3, and loses nothing."""
    with fd_emulator.serve(world, [SOURCE], page_cap=2) as running:
        extract(warehouse, running, UNTIL, per_page=2, window_days=120)
        lists = [
            (parse_qs(urlsplit(p).query), s)
            for _m, p, s in running.server.requests
            if urlsplit(p).path.endswith("/api/v2/tickets")
        ]
    assert counts(warehouse) == expected_counts(world)
    assert all(s == 200 and q["page"] == ["1"] for q, s in lists)
    starts = [q["updated_since"][0] for q, _s in lists]
    assert starts == sorted(starts) and len(set(starts)) >= 5  # the key moves forward


def test_bad_records_are_quarantined_with_reason_and_field(warehouse, world, fd):
    fd.add_raw(
        SOURCE,
        "tickets",
        {
            "subject": "no id",
            "created_at": "2025-11-01T00:00:00Z",
            "updated_at": "2025-11-01T00:00:00Z",
        },
    )
    fd.add_raw(
        SOURCE,
        "tickets",
        {
            "id": 900,
            "created_at": "2025-11-02T00:00:00Z",
            "updated_at": "2025-11-02T10:00:00Z",
            "stats": {"resolved_at": "2025-11-01T10:00:00Z"},
        },
    )
    fd.add_raw(
        SOURCE,
        "tickets",
        {
            "id": 901,
            "created_at": "2025-11-02T00:00:00Z",
            "updated_at": "2025-11-03T10:00:00Z",
            "status": 2,
            "priority": 1,
            "new_field": [1],
            "stats": {"first_responded_at": None},
        },
    )
    fd.add_raw(
        SOURCE,
        "conversations",
        {"id": 55, "ticket_id": 901, "created_at": "soon", "updated_at": "2025-11-03T10:00:00Z"},
    )
    fd.add_raw(
        SOURCE,
        "satisfaction_ratings",
        {
            "id": 66,
            "survey_id": 1,
            "ticket_id": 1,
            "ratings": {"default_question": 5},
            "created_at": "2025-11-04T10:00:00Z",
            "updated_at": "2025-11-04T10:00:00Z",
        },
    )
    fd.add_raw(SOURCE, "contacts", {"name": "no id", "updated_at": "2025-11-04T10:00:00Z"})
    summary = extract(warehouse, fd, UNTIL)
    assert summary.quarantined == {
        "missing_id": 2,
        "stat_before_created": 1,
        "unparsable_timestamp": 1,
        "rating_not_in_scale": 1,
    }
    with psycopg.connect(warehouse) as conn:
        rows = set(
            conn.execute(
                "select stream, reason, field, record_id from quarantine.records"
            ).fetchall()
        )
        [(kept,)] = select_whole(
            conn,
            "select payload, payload_z, payload_dict from raw.freshdesk_tickets"
            " where source_id = '901'",
        )
        kept = kept.get("new_field")
    assert rows == {
        ("tickets", "missing_id", "id", None),
        ("tickets", "stat_before_created", "stats.resolved_at", "900"),
        ("conversations", "unparsable_timestamp", "created_at", "55"),
        ("satisfaction_ratings", "rating_not_in_scale", "ratings.default_question", "66"),
        ("contacts", "missing_id", "id", None),
    }
    assert kept == [1]


def test_late_reopen_and_resolve_lands_as_a_new_version(warehouse, world, fd):
    extract(warehouse, fd, UNTIL)
    world.as_of = dt.date(2025, 12, 20)
    fd.now = fd_emulator.world_now(world)
    t1 = world.interactions[0]
    t1.events += [
        Event(at(12, 18, 8), "requester_reply", t1.requester, None, next(_ids)),
        Event(at(12, 18, 8), "status", t1.requester, "open", next(_ids)),
        Event(at(12, 19, 10), "agent_reply", AGENT, None, next(_ids)),
        Event(at(12, 19, 11), "status", AGENT, "solved", next(_ids)),
    ]
    extract(warehouse, fd, at(12, 20, 0))
    with psycopg.connect(warehouse) as conn:
        whole = [v["payload"] for v in packing.versions(conn, "freshdesk_tickets", "1")]
        projected = conn.execute(  # only the latest version keeps what staging reads
            "select updated_at from raw.freshdesk_tickets where source_id = '1' and payload <> '{}'"
        ).fetchall()
    versions = [
        (p["status"], p["stats"]["resolved_at"], p["stats"].get("reopened_at")) for p in whole
    ]
    assert versions == [
        (4, "2025-09-03T09:00:00Z", None),
        (4, "2025-12-19T11:00:00Z", "2025-12-18T08:00:00Z"),
    ]
    assert [r[0].isoformat() for r in projected] == ["2025-12-19T11:00:00+00:00"]


def test_low_rate_limit_budget_slows_the_connector_down(warehouse, world):
    slept, seen = [], []
    with fd_emulator.serve(world, [SOURCE], rate_limit_total=40) as running:
        extract(warehouse, running, UNTIL, sleep=slept.append, observe=seen)
    connector = seen[0]
    assert connector.pauses and slept == connector.pauses
    assert all(0 < p <= 30 for p in slept)
    assert counts(warehouse) == expected_counts(world)


def test_custom_status_lands_unknown_codes_are_quarantined_with_the_code(warehouse, world, fd):
    """Status 6 is listed by ticket_fields (a custom status): it lands. Status 9 is not listed
    and priority 7 is no Freshdesk priority: quarantined with reason, field and the record
    (which holds the code), never read as open / normal."""
    base = {
        "created_at": "2025-11-02T00:00:00Z",
        "updated_at": "2025-11-02T10:00:00Z",
        "source": 2,
        "stats": {},
    }
    fd.add_raw(SOURCE, "tickets", {**base, "id": 910, "status": 6, "priority": 2})
    fd.add_raw(SOURCE, "tickets", {**base, "id": 911, "status": 9, "priority": 2})
    fd.add_raw(SOURCE, "tickets", {**base, "id": 912, "status": 2, "priority": 7})
    summary = extract(warehouse, fd, UNTIL)
    assert summary.quarantined == {"unknown_status_code": 1, "unknown_priority_code": 1}
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute(
            "select record_id, reason, field, raw_text::jsonb ->> field from quarantine.records"
            " order by record_id"
        ).fetchall()
        landed = conn.execute(
            "select payload ->> 'status' from raw.freshdesk_tickets where source_id = '910'"
        ).fetchone()
        fields = conn.execute(
            "select payload ->> 'name' from raw.freshdesk_ticket_fields order by source_id"
        ).fetchall()
    assert rows == [
        ("911", "unknown_status_code", "status", "9"),
        ("912", "unknown_priority_code", "priority", "7"),
    ]
    assert landed == ("6",)
    assert [f[0] for f in fields] == ["cf_topic", "source", "status", "priority"]


def test_tickets_alone_read_the_account_statuses_or_quarantine_custom_ones(warehouse, world, fd):
    """Run with the tickets stream only, the connector still reads ticket fields to know the
    account's statuses; where they cannot be read (a 404 here), a custom status is quarantined
    with its code, never read as open."""
    from schoolcx.sandbox.emulators.http_base import Response

    fd.add_raw(
        SOURCE,
        "tickets",
        {
            "id": 930,
            "created_at": "2025-11-02T00:00:00Z",
            "updated_at": "2025-11-02T10:00:00Z",
            "status": 6,
            "priority": 2,
            "source": 2,
            "stats": {},
        },
    )

    def extract_tickets(url):
        ctx = make_ctx(fd)
        connector = FreshdeskConnector(ctx, policy=FAST, sleep=lambda s: None, streams=("tickets",))
        with RawWriter(
            url, source_instance=SOURCE, source_type="freshdesk", district_id="1700002", run_id="t"
        ) as writer:
            return writer.write_pages(connector.pages(writer.state(), UNTIL))

    assert extract_tickets(warehouse).quarantined_total == 0  # status 6 is listed
    handle = fd.server.handle
    fd.server.handle = lambda req: (
        Response.json({"description": "not found"}, status=404)
        if req.path.endswith("/ticket_fields")
        else handle(req)
    )
    # updated within the restart overlap of the next run
    late = {**fd.extra[SOURCE]["tickets"][0], "id": 931, "updated_at": "2025-11-30T22:58:00Z"}
    fd.add_raw(SOURCE, "tickets", late)
    summary = extract_tickets(warehouse)
    assert summary.quarantined == {"unknown_status_code": 1}
