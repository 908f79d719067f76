"""Freshdesk paging while the vendor changes records: nothing a concurrent update moves is lost.

Page-number paging over a list ordered by updated_at shifts when a ticket already read is
updated (it moves to the end): the ticket after it slides onto the page already read. These
tests play that against the emulator (its `after_page` hook changes the World between two page
requests) and check that what landed equals a clean extract of the final state.
"""

from __future__ import annotations

import datetime as dt
import json

import psycopg
import pytest

from schoolcx.connectors.base import ConnectorError
from schoolcx.connectors.freshdesk import FreshdeskConnector
from schoolcx.load import packing
from schoolcx.sandbox.demo.world import Event
from schoolcx.sandbox.emulators import freshdesk as fd_emulator
from tests.test_freshdesk import (
    AGENT,
    FAST,
    SOURCE,
    UNTIL,
    _ids,
    _ticket,
    at,
    extract,
    make_ctx,
    make_world,
)


def latest(url: str, table: str) -> dict[str, dict]:
    """source_id -> payload of the latest landed version."""
    with psycopg.connect(url) as conn:
        rows = packing.select_whole(
            conn,
            f"select distinct on (source_id) source_id, payload, payload_z, payload_dict"
            f" from raw.{table} order by source_id, updated_at desc",
        )
    return dict(rows)


def clean(records: list[dict]) -> dict[str, dict]:
    """A clean extract of the final state, as it would land (JSON round trip)."""
    return {str(r["id"]): json.loads(json.dumps(r)) for r in records}


@pytest.fixture
def world():
    return make_world()


@pytest.fixture
def fd(world):
    with fd_emulator.serve(world, [SOURCE]) as running:
        yield running


def _once(kind: str, when, change, *, numbered: bool = False):
    """An after_page hook that runs `change` once, after the first `kind` page `when` accepts
    (numbered: only a page asked for by page number, i.e. without the key's page=1)."""
    done = []

    def hook(served_kind, req, records):
        if numbered and req.arg("page") == "1":
            return
        if not done and served_kind == kind and when(records):
            done.append(True)
            change()

    return hook


def test_ticket_updated_between_pages_hides_no_other_ticket(warehouse, world, fd):
    """per_page=1, one 120-day window: after page 1 (ticket 1) is served, ticket 1 is updated.
    Page-number paging would then serve ticket 3 as page 2: ticket 2 would never be read."""
    t1 = world.interactions[0]
    fd.after_page = _once(
        "tickets",
        lambda records: [r["id"] for r in records] == [1],
        lambda: t1.events.append(Event(at(11, 29, 12), "agent_note", AGENT, None, next(_ids))),
    )
    extract(warehouse, fd, UNTIL, per_page=1, window_days=120)
    final = fd_emulator.render(world, SOURCE)
    assert latest(warehouse, "freshdesk_tickets") == clean(final["tickets"])
    assert latest(warehouse, "freshdesk_conversations") == clean(final["conversations"])


def test_conversation_deleted_between_pages_hides_no_other_one(warehouse, world, fd):
    """Ticket 3 has four conversations; after its first page, the first one is deleted: the
    second slides onto page 1, already read."""
    t3 = world.interactions[2]
    first = next(e for e in sorted(t3.events, key=lambda e: e.at) if e.kind == "requester_reply")
    fd.after_page = _once(
        "tickets/3/conversations",
        lambda records: bool(records),
        lambda: t3.events.remove(first),
    )
    extract(warehouse, fd, UNTIL, per_page=1)
    final = clean(fd_emulator.render(world, SOURCE)["conversations"])
    landed = latest(warehouse, "freshdesk_conversations")
    # every conversation of the final state landed as it is (the deleted one stays in raw: it
    # was read before it was deleted)
    assert {k: landed.get(k) for k in final} == final


def test_rating_updated_between_pages_hides_no_other_rating(warehouse, world, fd):
    """Ratings are listed by id: an updated rating keeps its place, so nothing shifts."""
    world.interactions.append(_ticket(7, at(11, 26), [], ratings=[fd_emulator_rating(at(11, 27))]))
    t1 = world.interactions[0]
    fd.after_page = _once(
        "surveys/satisfaction_ratings",
        lambda records: bool(records),
        lambda: t1.ratings.append(fd_emulator_rating(at(11, 28))),
    )
    extract(warehouse, fd, UNTIL, per_page=1)
    final = clean(fd_emulator.render(world, SOURCE)["satisfaction_ratings"])
    landed = latest(warehouse, "freshdesk_satisfaction_ratings")
    assert {k: landed.get(k) for k in final} == final


def fd_emulator_rating(when: dt.datetime):
    from schoolcx.sandbox.demo.world import Rating

    return Rating(when, "1-5", 5)


def test_more_pages_in_one_second_than_the_cap_stops_with_a_clear_error(warehouse, world):
    """Three tickets updated in the same second, page_cap=2 and per_page=1 (Freshdesk's 300 x
    100): a resumed window can never get past that second. The connector must say so, naming
    the source, the connection and the window, instead of asking for the same pages forever."""
    second = at(11, 20, 10)
    for tid in (11, 12, 13):
        world.interactions.append(_ticket(tid, at(11, 19), [(second, "agent_note", AGENT, None)]))
    with fd_emulator.serve(world, [SOURCE], page_cap=2) as running:
        connector = FreshdeskConnector(
            make_ctx(running, per_page=1), policy=FAST, sleep=lambda s: None, streams=("tickets",)
        )
        state = {"tickets": {"updated_since": "2025-11-20T10:00:00Z"}}
        with pytest.raises(ConnectorError) as err:
            for n, _page in enumerate(connector.pages(state, UNTIL)):
                assert n < 60, "the connector keeps asking for the same pages"
    message = str(err.value)
    assert SOURCE in message and "fd_d2" in message
    assert "2025-11-20T10:00:00Z" in message  # the second that cannot be passed


def test_ticket_leaving_a_crowded_second_while_it_is_paged_hides_no_other(warehouse, world):
    """Four tickets updated in the same second, per_page=2: the key cannot pass that second, so
    it is read by page numbers. After the first page of that read, a ticket on it is updated
    (leaves the second): the third slides onto page 1, unseen by this pass. The passes that
    follow (until two agree) find it."""
    second = at(11, 20, 10)
    for tid in (11, 12, 13, 14):
        world.interactions.append(_ticket(tid, at(11, 19), [(second, "agent_note", AGENT, None)]))
    t11 = world.interactions[-4]
    with fd_emulator.serve(world, [SOURCE]) as running:
        running.after_page = _once(
            "tickets",
            lambda records: [r["id"] for r in records] == [11, 12],
            lambda: t11.events.append(Event(at(11, 29, 13), "agent_note", AGENT, None, next(_ids))),
            numbered=True,
        )
        extract(warehouse, running, UNTIL, per_page=2, window_days=120)
        final = fd_emulator.render(world, SOURCE)
    assert latest(warehouse, "freshdesk_tickets") == clean(final["tickets"])


def test_a_tickets_page_served_again_for_the_next_request_loses_nothing(warehouse, world, fd):
    """A cache or proxy answers a tickets request with the previous answer (the chaos suite's
    "page served twice"): the 7-day windows holding ticket 2 (Sep 22) and after ticket 3 (Oct
    9) get the answer of the window before. updated_since has no upper bound, so that answer
    still holds the tickets past the key: read by key, nothing is lost."""
    ranges = [("2025-09-15", "2025-09-23"), ("2025-10-09T09", "2025-10-20")]
    last, repeated = {}, set()
    handle = fd.server.handle

    def repeating(req):
        if not req.path.endswith("/api/v2/tickets"):
            return handle(req)
        since = req.arg("updated_since") or ""
        due = [n for n, (lo, hi) in enumerate(ranges) if lo < since < hi and n not in repeated]
        if due and "resp" in last:
            repeated.add(due[0])
            return last["resp"]
        last["resp"] = handle(req)
        return last["resp"]

    fd.server.handle = repeating
    extract(warehouse, fd, UNTIL)
    final = fd_emulator.render(world, SOURCE)
    print("REPEATED", repeated, [r["id"] for r in final["tickets"]])
    assert len(repeated) == 2
    assert latest(warehouse, "freshdesk_tickets") == clean(final["tickets"])


def test_tickets_pages_served_in_reverse_order_lose_nothing(warehouse, world, fd):
    """Every tickets page comes with its records reversed (the chaos suite's "reordered
    pages"). A page of a 7-day window then starts with tickets of later windows: stopping at
    the first of them would skip the window's own tickets behind it."""
    handle = fd.server.handle

    def reversed_pages(req):
        resp = handle(req)
        if req.path.endswith("/api/v2/tickets") and resp.status == 200:
            resp.body = json.dumps(json.loads(resp.body)[::-1]).encode()
        return resp

    fd.server.handle = reversed_pages
    extract(warehouse, fd, UNTIL)
    final = fd_emulator.render(world, SOURCE)
    assert latest(warehouse, "freshdesk_tickets") == clean(final["tickets"])
