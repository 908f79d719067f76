"""Zendesk connector against the Zendesk emulator: real sockets, real PostgreSQL.

Each test builds a small World by hand, serves it, extracts it through ZendeskConnector into raw
with the real RawWriter and checks what landed, what was quarantined and the request log.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json

import psycopg
import pytest

from schoolcx.config import DeploymentConfig
from schoolcx.connections import Connection
from schoolcx.connectors.base import ConnectorContext, ConnectorError, registry
from schoolcx.connectors.http import AuthError, RetryBudgetExhausted, RetryPolicy
from schoolcx.connectors.zendesk import ZendeskConnector
from schoolcx.load import packing
from schoolcx.load.packing import select_whole
from schoolcx.load.raw_writer import RawWriter, read_state
from schoolcx.sandbox.demo.world import Event, Interaction, Person, Rating, World
from schoolcx.sandbox.emulators import zendesk as zd_emulator
from schoolcx.sandbox.emulators.http_base import EmulatorServer, Faults, Request, Response
from tests.faults_support import fresh_warehouse

SOURCE = "d1-zendesk"
UTC = dt.UTC
FAST = RetryPolicy(base_delay=0.01, max_delay=0.05)
TABLES = (
    "zendesk_tickets",
    "zendesk_ticket_events",
    "zendesk_users",
    "zendesk_satisfaction_ratings",
    "zendesk_groups",
    "zendesk_organizations",
)


def at(day: int, hour: int = 9, minute: int = 0, month: int = 9) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, minute, tzinfo=UTC)


_ids = itertools.count(1)

AGENT = Person(10, "ana.agent@lincoln.k12.il.us", "Ana Agent", "agent")
AGENT2 = Person(11, "bo.agent@lincoln.k12.il.us", "Bo Agent", "agent")
SYSTEM = Person(0, "system@zendesk", "Zendesk", "system")


def _parent(n: int, locale: str = "en") -> Person:
    return Person(100 + n, f"Parent{n}@Example.org", f"Parent {n}", "parent", locale)


def _ticket(
    tid: int,
    created: dt.datetime,
    events: list[tuple],
    *,
    channel="email",
    opened_by_agent=False,
    ratings=(),
    group="Transportation",
    org="Lincoln Elementary",
    requester=None,
) -> Interaction:
    evs = [Event(t, kind, author, status, next(_ids)) for t, kind, author, status in events]
    return Interaction(
        interaction_id=tid,
        district_id="1700001",
        source_name=SOURCE,
        created_at=created,
        subject=f"Ticket {tid}",
        channel=channel,
        topic="transportation",
        tags=["bus"],
        priority="normal",
        requester=requester or _parent(tid),
        assignee=AGENT,
        group=group,
        organization=org,
        opened_by_agent=opened_by_agent,
        events=evs,
        ratings=list(ratings),
    )


def make_world() -> World:
    """Five tickets: answered and solved, auto-replied, agent-opened (phone), rated, open."""
    tickets = [
        _ticket(
            1,
            at(2),
            [
                (at(2, 9, 1), "auto_reply", SYSTEM, None),
                (at(2, 10), "agent_reply", AGENT, None),
                (at(2, 10), "status", AGENT, "open"),
                (at(3), "status", AGENT, "solved"),
            ],
            ratings=[Rating(at(4), "good_bad", "good")],
        ),
        _ticket(
            2,
            at(5),
            [(at(5, 12), "agent_note", AGENT2, None), (at(6), "agent_reply", AGENT2, None)],
            channel="web",
            group="Enrollment",
            requester=_parent(2, "es"),
        ),
        _ticket(
            3,
            at(8),
            [
                (at(8), "agent_reply", AGENT, None),
                (at(8, 9, 30), "requester_reply", _parent(3), None),
                (at(9), "agent_reply", AGENT, None),
                (at(9), "status", AGENT, "solved"),
            ],
            channel="phone",
            opened_by_agent=True,
            ratings=[Rating(at(10), "good_bad", "bad"), Rating(at(12), "good_bad", "good")],
        ),
        _ticket(4, at(15), [(at(15, 11), "requester_reply", _parent(4), None)], channel="chat"),
        _ticket(5, at(20), [(at(20, 9, 5), "auto_reply", SYSTEM, None)], org=None),
    ]
    people = [AGENT, AGENT2, SYSTEM] + [t.requester for t in tickets]
    return World(
        as_of=dt.date(2025, 9, 30),
        people=people,
        interactions=tickets,
        survey_responses=[],
        config_yaml="",
    )


CONFIG = {
    "name": "test",
    "districts": [
        {
            "district_id": "1700001",
            "name": "Lincoln",
            "state": "IL",
            "timezone": "America/Chicago",
            "enrollment": {2026: 5000},
            "sources": [
                {
                    "name": SOURCE,
                    "type": "zendesk",
                    "conn_id": "zd_d1",
                    "start_date": "2025-08-01",
                    "options": {},
                }
            ],
        }
    ],
}


def make_ctx(running, password=None, **options) -> ConnectorContext:
    cfg = json.loads(json.dumps(CONFIG))
    cfg["districts"][0]["sources"][0]["options"] = options
    district, source = DeploymentConfig.model_validate(cfg).source(SOURCE)
    conn = running.connection(SOURCE)
    if password is not None:
        conn["password"] = password
    return ConnectorContext(district, source, Connection("zd_d1", **conn))


def extract(
    url, running, until, *, fail_after=None, sleep=None, password=None, observe=None, **options
):
    connector = ZendeskConnector(
        make_ctx(running, password, **options), policy=FAST, sleep=sleep or (lambda s: None)
    )
    with RawWriter(
        url, source_instance=SOURCE, source_type="zendesk", district_id="1700001", run_id="t"
    ) as writer:
        pages = connector.pages(writer.state(), until)
        if fail_after is not None:
            pages = _crash_after(pages, fail_after)
        if observe is not None:
            pages = _observed(pages, observe)
        return writer.write_pages(pages)


def _observed(pages, seen: list):
    for page in pages:
        seen.append((page.stream, len(page.records)))
        yield page


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
    r = zd_emulator.render(world, SOURCE)
    return {
        "zendesk_tickets": len(r.tickets),
        "zendesk_ticket_events": len(r.ticket_events),
        "zendesk_users": len(r.users),
        "zendesk_satisfaction_ratings": len(r.satisfaction_ratings),
        "zendesk_groups": len(r.groups),
        "zendesk_organizations": len(r.organizations),
    }


UNTIL = at(30, 23)


@pytest.fixture
def world():
    return make_world()


@pytest.fixture
def zd(world):
    with zd_emulator.serve(world, [SOURCE]) as running:
        yield running


def test_registry_finds_the_connector():
    assert registry()["zendesk"] is ZendeskConnector


def test_full_load_lands_every_stream_in_the_contract_shape(warehouse, world, zd):
    summary = extract(warehouse, zd, UNTIL)
    assert counts(warehouse) == expected_counts(world)
    assert summary.quarantined_total == 0
    with psycopg.connect(warehouse) as conn:
        [(version, payload)] = select_whole(
            conn,
            "select updated_at, payload, payload_z, payload_dict from raw.zendesk_tickets"
            " where source_id = '3'",
        )
        assert payload["via"]["channel"] == "voice" and payload["status"] == "solved"
        assert version == dt.datetime.fromtimestamp(payload["generated_timestamp"], UTC)
        # agent-opened: the agent's opening comment is not a reply; the reply after it is.
        assert payload["metric_set"]["replies"] == 1
        assert payload["metric_set"]["reply_time_in_minutes"]["calendar"] == 24 * 60
        assert payload["custom_fields"][0] == {"id": 360010001, "value": "transportation"}
        auto = conn.execute(
            "select payload from raw.zendesk_ticket_events"
            " where payload->>'ticket_id' = '1' and payload->>'via' = 'Rule'"
        ).fetchone()[0]
        assert auto["child_events"][0]["author_id"] == -1
        assert auto["child_events"][0]["event_type"] == "Comment"
        change = conn.execute(
            "select c from raw.zendesk_ticket_events, jsonb_array_elements(payload->"
            "'child_events') c where c->>'status' = 'solved' and payload->>'ticket_id' = '1'"
        ).fetchone()[0]
        assert (change["event_type"], change["previous_value"]) == ("Change", "open")
        users = conn.execute(
            "select payload->>'role', payload->>'locale', person_hash"
            " from raw.zendesk_users order by source_id::int"
        ).fetchall()
        assert users[0][:2] == ("agent", "en-US") and all(len(u[2]) == 64 for u in users)
        assert users[3][:2] == ("end-user", "es")
        scores = conn.execute(
            "select payload->>'score' from raw.zendesk_satisfaction_ratings"
            " order by payload->>'ticket_id'"
        ).fetchall()
        assert scores == [("good",), ("good",)]  # ticket 3: the later rating replaced bad
        state = read_state(conn, SOURCE)
    assert set(state) == {
        "groups",
        "organizations",
        "users",
        "tickets",
        "ticket_events",
        "satisfaction_ratings",
    }
    assert state["ticket_events"]["start_time"] <= int(UNTIL.timestamp())


def test_rerun_is_idempotent(warehouse, zd):
    extract(warehouse, zd, UNTIL)
    before = checksum(warehouse)
    again = extract(warehouse, zd, UNTIL)
    assert again.inserted == 0
    assert checksum(warehouse) == before


def test_incremental_run_lands_exactly_the_new_versions(warehouse, world, zd):
    extract(warehouse, zd, UNTIL)
    first = counts(warehouse)
    # A day later: ticket 4 gets an answer and a new ticket arrives.
    world.as_of = dt.date(2025, 10, 1)
    zd.now = zd_emulator.world_now(world)
    t4 = world.interactions[3]
    t4.events.append(Event(at(1, 8, month=10), "agent_reply", AGENT, None, next(_ids)))
    world.interactions.append(_ticket(6, at(1, 9, month=10), []))
    summary = extract(warehouse, zd, at(1, 23, month=10))
    after = counts(warehouse)
    assert after["zendesk_tickets"] - first["zendesk_tickets"] == 2  # new version of 4, new 6
    assert after["zendesk_ticket_events"] - first["zendesk_ticket_events"] == 2
    assert after["zendesk_users"] - first["zendesk_users"] == 1
    assert summary.inserted == 5
    with psycopg.connect(warehouse) as conn:
        assert (
            conn.execute(
                "select count(*) from raw.zendesk_tickets where source_id = '4'"
            ).fetchone()[0]
            == 2
        )


def test_until_bounds_the_run_and_its_state(warehouse, world, zd):
    until = at(10, 0)
    extract(warehouse, zd, until)
    limit = int(until.timestamp())
    with psycopg.connect(warehouse) as conn:
        newest = conn.execute("select max(updated_at) from raw.zendesk_tickets").fetchone()[0]
        assert newest <= until
        assert conn.execute("select count(*) from raw.zendesk_tickets").fetchone()[0] == 2
        state = read_state(conn, SOURCE)
    assert state["tickets"] == {"start_time": limit}
    assert state["ticket_events"]["start_time"] <= limit
    # The next run picks up everything after `until`, nothing lost, nothing doubled.
    extract(warehouse, zd, UNTIL)
    assert counts(warehouse) == expected_counts(world)


def test_a_reordered_export_page_with_until_inside_it_loses_nothing(warehouse, world, pg_server):
    """A page whose records are not in version order (a version past `until` listed before
    one within it) must still land the one within: stopping at the first version past `until`
    would hide it, and the next run starts from `until`, so it would be lost for good."""
    until = at(10, 0)
    reordered = Faults(plan=dict.fromkeys(range(1, 50), "reorder"), path_contains="tickets/cursor")
    with zd_emulator.serve(world, [SOURCE], reordered) as running:
        extract(warehouse, running, until)
    clean = fresh_warehouse(pg_server)
    with zd_emulator.serve(world, [SOURCE]) as running:
        extract(clean, running, until)
    query = "select source_id, updated_at from raw.zendesk_tickets order by 1, 2"
    with psycopg.connect(warehouse) as got, psycopg.connect(clean) as want:
        landed, expected = got.execute(query).fetchall(), want.execute(query).fetchall()
    assert len(expected) == 2 and landed == expected


def test_crash_between_pages_then_resume_lands_exact_counts(warehouse, world, zd):
    with pytest.raises(ConnectionError):
        extract(warehouse, zd, UNTIL, fail_after=5, page_size=2)
    partial = counts(warehouse)
    assert 0 < sum(partial.values()) < sum(expected_counts(world).values())
    extract(warehouse, zd, UNTIL, page_size=2)
    assert counts(warehouse) == expected_counts(world)
    with psycopg.connect(warehouse) as conn:
        runs = conn.execute("select status from ops.extract_runs order by started_at").fetchall()
    assert runs == [("failed",), ("success",)]


def test_retry_budget_exhausted_mid_run_then_resume(warehouse, world):
    faults = Faults(
        plan={3: "error_500", 4: "error_500", 5: "error_500"}, path_contains="ticket_events"
    )
    with zd_emulator.serve(world, [SOURCE], faults) as running:
        connector = ZendeskConnector(
            make_ctx(running, page_size=3),
            policy=RetryPolicy(max_attempts=3, base_delay=0.01),
            sleep=lambda s: None,
        )
        with (
            pytest.raises(RetryBudgetExhausted),
            RawWriter(
                warehouse,
                source_instance=SOURCE,
                source_type="zendesk",
                district_id="1700001",
                run_id="t",
            ) as writer,
        ):
            writer.write_pages(connector.pages(writer.state(), UNTIL))
        assert (
            0
            < counts(warehouse)["zendesk_ticket_events"]
            < len(zd_emulator.render(world, SOURCE).ticket_events)
        )
        extract(warehouse, running, UNTIL, page_size=3)
    assert counts(warehouse) == expected_counts(world)


def test_429_with_retry_after_and_500_are_retried(warehouse, world):
    faults = Faults(
        plan={1: "rate_limit", 2: "error_500"}, path_contains="tickets/cursor", retry_after=0.05
    )
    slept = []
    with zd_emulator.serve(world, [SOURCE], faults) as running:
        extract(warehouse, running, UNTIL, sleep=slept.append)
        log = [status for _m, path, status in running.server.requests if "tickets/cursor" in path]
    assert log[:3] == [429, 500, 200]
    assert slept[0] == pytest.approx(0.05)  # waited what Retry-After said
    assert counts(warehouse) == expected_counts(world)


def test_401_fails_at_once_naming_the_connection_never_the_secret(warehouse, world):
    with zd_emulator.serve(world, [SOURCE], token="right-token") as running:
        with pytest.raises(AuthError) as err:
            extract(warehouse, running, UNTIL, password="stale-token")
        assert len(running.server.requests) == 1
    assert "zd_d1" in str(err.value) and "stale-token" not in str(err.value)
    assert "401" in str(err.value)


def test_truncated_page_is_fetched_again(warehouse, world):
    faults = Faults(plan={1: "truncate"}, path_contains="ticket_events")
    with zd_emulator.serve(world, [SOURCE], faults) as running:
        extract(warehouse, running, UNTIL)
        statuses = [s for _m, p, s in running.server.requests if "ticket_events" in p]
    assert len(statuses) == 2
    assert counts(warehouse) == expected_counts(world)


def test_page_served_twice_and_boundary_duplicates_are_not_doubled(warehouse, world):
    twice = {"ticket_events": {2, 4}, "tickets": {2}, "users": {2}}
    seen: list = []
    with zd_emulator.serve(world, [SOURCE], serve_twice=twice) as running:
        extract(warehouse, running, UNTIL, page_size=2, observe=seen)
        events = [p for _m, p, _s in running.server.requests if "ticket_events" in p]
    assert counts(warehouse) == expected_counts(world)
    # Events sharing a second (ticket 1 at 10:00, ticket 3 at 09:00) straddle pages and two
    # pages came twice: the connector itself drops the repeats by event id.
    n_events = expected_counts(world)["zendesk_ticket_events"]
    assert sum(n for stream, n in seen if stream == "ticket_events") == n_events
    assert len(events) > n_events // 2 + 2
    # Tickets and users pages served twice are absorbed by the raw key.
    assert sum(n for stream, n in seen if stream == "tickets") > len(world.interactions)


def test_bad_records_are_quarantined_with_reason_and_field(warehouse, world, zd):
    ts = int(at(25).timestamp())
    zd.add_raw(SOURCE, "tickets", {"subject": "no id", "generated_timestamp": ts, "__at": ts})
    zd.add_raw(
        SOURCE,
        "tickets",
        {
            "id": 900,
            "created_at": "yesterday-ish",
            "updated_at": "2025-09-25T10:00:00Z",
            "generated_timestamp": ts,
            "__at": ts,
        },
    )
    zd.add_raw(
        SOURCE,
        "tickets",
        {
            "id": 901,
            "created_at": "2025-09-25T10:00:00Z",
            "updated_at": "2025-09-25T10:00:00Z",
            "generated_timestamp": ts,
            "brand_new_field": {"x": 1},
            "__at": ts,
        },
    )
    zd.add_raw(
        SOURCE,
        "satisfaction_ratings",
        {
            "id": 77,
            "ticket_id": 1,
            "score": "meh",
            "created_at": "2025-09-25T10:00:00Z",
            "updated_at": "2025-09-25T10:00:00Z",
        },
    )
    zd.add_raw(
        SOURCE,
        "ticket_events",
        {"id": 88, "ticket_id": 1, "timestamp": ts, "created_at": "not a time", "child_events": []},
    )
    zd.add_raw(SOURCE, "users", {"name": "nobody", "updated_at": "2025-09-25T10:00:00Z"})
    summary = extract(warehouse, zd, UNTIL)
    assert summary.quarantined == {"missing_id": 2, "unparsable_timestamp": 2, "invalid_score": 1}
    with psycopg.connect(warehouse) as conn:
        rows = set(
            conn.execute(
                "select stream, reason, field, record_id from quarantine.records"
            ).fetchall()
        )
        [(kept,)] = select_whole(
            conn,
            "select payload, payload_z, payload_dict from raw.zendesk_tickets"
            " where source_id = '901'",
        )
        kept = kept["brand_new_field"]
    assert rows == {
        ("tickets", "missing_id", "id", None),
        ("tickets", "unparsable_timestamp", "created_at", "900"),
        ("satisfaction_ratings", "invalid_score", "score", "77"),
        ("ticket_events", "unparsable_timestamp", "created_at", "88"),
        ("users", "missing_id", "id", None),
    }
    assert kept == {"x": 1}  # an unknown new field stays in the whole record
    assert counts(warehouse)["zendesk_tickets"] == expected_counts(world)["zendesk_tickets"] + 1


def test_late_reopen_and_resolve_lands_as_a_new_version(warehouse, world, zd):
    extract(warehouse, zd, UNTIL)
    # Three weeks later the parent writes again, ticket 1 reopens and is solved again.
    world.as_of = dt.date(2025, 10, 21)
    zd.now = zd_emulator.world_now(world)
    t1 = world.interactions[0]
    t1.events += [
        Event(at(20, 8, month=10), "requester_reply", t1.requester, None, next(_ids)),
        Event(at(20, 8, month=10), "status", SYSTEM, "open", next(_ids)),
        Event(at(20, 11, month=10), "agent_reply", AGENT, None, next(_ids)),
        Event(at(20, 12, month=10), "status", AGENT, "solved", next(_ids)),
    ]
    extract(warehouse, zd, at(21, 0, month=10))
    with psycopg.connect(warehouse) as conn:
        # every version whole (payload_z): a superseded one keeps no projection
        versions = [
            (p["status"], p["metric_set"]["reopens"], p["metric_set"]["solved_at"])
            for p in (v["payload"] for v in packing.versions(conn, "zendesk_tickets", "1"))
        ]
        new_events = conn.execute(
            "select count(*) from raw.zendesk_ticket_events where payload->>'ticket_id' = '1'"
            " and updated_at >= '2025-10-01'"
        ).fetchone()[0]
    assert versions == [
        ("solved", 0, "2025-09-03T09:00:00Z"),
        ("solved", 1, "2025-10-20T12:00:00Z"),
    ]
    assert new_events == 4


def test_rating_changed_after_solve_is_reread_within_the_lookback(warehouse, world, zd):
    extract(warehouse, zd, UNTIL)
    world.as_of = dt.date(2025, 10, 5)
    zd.now = zd_emulator.world_now(world)
    world.interactions[0].ratings.append(Rating(at(4, 10, month=10), "good_bad", "bad"))
    extract(warehouse, zd, at(5, 0, month=10))
    with psycopg.connect(warehouse) as conn:
        scores = [
            (r["score"],)
            for (r,) in select_whole(
                conn,
                "select payload, payload_z, payload_dict from raw.zendesk_satisfaction_ratings"
                " order by updated_at",
            )
            if r["ticket_id"] == 1
        ]
    assert scores == [("good",), ("bad",)]


def test_extract_source_runs_it_from_config_and_an_airflow_connection(
    warehouse, zd, monkeypatch, tmp_path
):
    from schoolcx.connections import connection_json
    from schoolcx.extract import extract_source

    monkeypatch.setenv("AIRFLOW_CONN_ZD_D1", connection_json(**zd.connection(SOURCE)))
    cfg = DeploymentConfig.model_validate(CONFIG)
    summary = extract_source(warehouse, cfg, SOURCE, run_id="r1", until=UNTIL)
    assert summary.inserted == sum(counts(warehouse).values()) > 0


def test_comment_children_that_cannot_be_read_are_quarantined_not_landed_private(
    warehouse, world, zd
):
    """include=comment_events not honoured the way it was asked: a comment child with neither
    `public` nor `comment_public` (or no author anywhere) would stage as a private comment and
    leave its ticket unanswered; it goes to quarantine with its event instead. The compact form
    (comment_public, author = the event's updater) is read and lands."""
    ts = int(at(25).timestamp())
    base = {"ticket_id": 1, "timestamp": ts, "created_at": "2025-09-25T09:00:00Z", "via": "Mail"}
    comment = {"id": 1, "via": "Mail", "via_reference_id": None, "event_type": "Comment"}
    zd.add_raw(
        SOURCE, "ticket_events", {**base, "id": 91, "updater_id": 101, "child_events": [comment]}
    )
    zd.add_raw(
        SOURCE,
        "ticket_events",
        {
            **base,
            "id": 92,
            "child_events": [{**comment, "comment_present": True, "comment_public": True}],
        },
    )
    zd.add_raw(
        SOURCE,
        "ticket_events",
        {
            **base,
            "id": 93,
            "updater_id": 10,
            "child_events": [
                {**comment, "comment_present": True, "comment_public": True},
                {
                    "id": 2,
                    "via": "Mail",
                    "status": "open",
                    "previous_value": "new",
                    "type": "Change",
                },
            ],
        },
    )
    summary = extract(warehouse, zd, UNTIL)
    assert summary.quarantined == {"comment_visibility_missing": 1, "comment_author_missing": 1}
    with psycopg.connect(warehouse) as conn:
        rows = set(conn.execute("select stream, reason, field, record_id from quarantine.records"))
        landed = {
            r[0]
            for r in conn.execute(
                "select source_id from raw.zendesk_ticket_events where source_id in"
                " ('91', '92', '93')"
            )
        }
    assert rows == {
        ("ticket_events", "comment_visibility_missing", "child_events[0]", "91"),
        ("ticket_events", "comment_author_missing", "child_events[0]", "92"),
    }
    assert landed == {"93"}
    assert (
        counts(warehouse)["zendesk_ticket_events"]
        == expected_counts(world)["zendesk_ticket_events"] + 1
    )


def test_a_listing_endpoint_refusal_names_source_and_connection_never_the_secret(warehouse):
    """A 404 from a listing endpoint (the account's groups gone, a wrong subdomain) is a
    ConnectorError naming the source and the Airflow connection, at once (no retries), with the
    vendor's words; the token is masked even where the vendor's body echoes it back."""
    token = "zd-s3cret-t0ken"

    def refuse(req: Request) -> Response:
        return Response.json(
            {"error": "InvalidEndpoint", "description": f"Not found for {token}"}, status=404
        )

    with EmulatorServer(refuse) as server:

        class Running:
            def connection(self, _name):
                return {"conn_type": "http", "host": server.url, "login": "a@b.org"}

        with pytest.raises(ConnectorError) as err:
            extract(warehouse, Running(), UNTIL, password=token)
        assert len(server.requests) == 1
    message = str(err.value)
    assert message.startswith(f"{SOURCE}: GET /api/v2/groups")
    assert "HTTP 404" in message and "'zd_d1'" in message and "InvalidEndpoint" in message
    assert token not in message and "***" in message


def test_emulator_serves_the_shapes_real_accounts_send_and_they_land(warehouse, world):
    """API-made tickets (via.channel api), a deleted twin mixed into the export, compact comment
    events (every third ticket's), links.next set on the last list page, no end_of_stream on
    ticket events: the emulator serves them and the connector lands every record once."""
    world.interactions.append(
        _ticket(7, at(22), [(at(22, 11), "agent_reply", AGENT, None)], channel="other")
    )
    with zd_emulator.serve(world, [SOURCE]) as running:
        summary = extract(warehouse, running, UNTIL)
        groups = running.requests_to("api/v2/groups")
    assert summary.quarantined_total == 0
    assert counts(warehouse) == expected_counts(world)
    assert len(groups) == 1  # has_more false ends it, though links.next is set
    with psycopg.connect(warehouse) as conn:
        tickets = dict(
            conn.execute(
                "select source_id, payload->>'status' || ' ' || (payload->'via'->>'channel')"
                " from raw.zendesk_tickets"
            ).fetchall()
        )
        compact = conn.execute(
            "select payload->>'ticket_id', count(*) from raw.zendesk_ticket_events,"
            " jsonb_array_elements(payload->'child_events') c"
            " where c ? 'comment_public' and not c ? 'author_id' group by 1 order by 1"
        ).fetchall()
    # ticket 7 (id % 10 == 7) came in through the API and has a deleted twin
    assert tickets["7"] == "open api" and tickets["900000007"] == "deleted api"
    assert len(tickets) == len(world.interactions) + 1
    # ticket 3 (agent-opened call: opening, the parent's reply, the agent's reply) is compact
    assert compact == [("3", 3)]
