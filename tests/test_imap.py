"""IMAP connector against a real dovecot (IMAPS with a harness-made certificate) and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import psycopg
import pytest
import yaml

from schoolcx.config import DeploymentConfig
from schoolcx.connections import Connection
from schoolcx.connectors.base import ConnectorContext
from schoolcx.connectors.imap import ImapConnector
from schoolcx.load.packing import select_whole
from schoolcx.load.raw_writer import RawWriter, read_state
from schoolcx.sandbox.demo.world import Event, Interaction, Person, World
from schoolcx.sandbox.emulators.imap_server import (
    change_uidvalidity,
    deliver,
    deliver_world,
    expected_thread_id,
    render_source,
    start_dovecot,
)

DOMAIN = "lincoln.k12.il.us"
HELP = f"help@{DOMAIN}"
HR = f"hr@{DOMAIN}"
T0 = dt.datetime(2025, 9, 1, 14, 0, tzinfo=dt.UTC)
UNTIL = dt.datetime(2025, 12, 31, tzinfo=dt.UTC)

CONFIG = f"""
name: imap-test
districts:
  - district_id: "1700001"
    name: Lincoln
    state: IL
    timezone: America/Chicago
    enrollment: {{2026: 5000}}
    mail_domains: [{DOMAIN}]
    sources:
      - name: d1-mail
        type: imap
        conn_id: d1_mail
        start_date: 2025-08-01
        options: {{mailbox_address: {HELP}, batch_size: 4}}
      - name: d1-hr
        type: imap
        conn_id: d1_hr
        start_date: 2025-08-01
        options: {{mailbox_address: {HR}, internal: true, responders: [lead@{DOMAIN}]}}
"""

AGENT = Person(900, f"agent@{DOMAIN}", "Agent", "agent")
LEAD = Person(901, f"lead@{DOMAIN}", "HR lead", "agent")
SYSTEM = Person(902, HELP, "Auto", "system")


def _interaction(
    n: int,
    source: str = "d1-mail",
    requester: Person | None = None,
    auto: bool = False,
    day: int = 0,
) -> Interaction:
    requester = requester or Person(n, f"parent{n}@gmail.com", f"Parent {n}", "parent")
    start = T0 + dt.timedelta(days=day, hours=n)
    events = []
    if auto:
        events.append(Event(start + dt.timedelta(minutes=1), "auto_reply", SYSTEM, event_id=n * 10))
    events.append(
        Event(
            start + dt.timedelta(hours=2),
            "agent_reply",
            LEAD if source == "d1-hr" else AGENT,
            event_id=n * 10 + 1,
        )
    )
    events.append(
        Event(start + dt.timedelta(hours=5), "requester_reply", requester, event_id=n * 10 + 2)
    )
    return Interaction(
        n,
        "1700001",
        source,
        start,
        f"Bus route question {n}",
        "email",
        "transportation",
        [],
        "normal",
        requester,
        AGENT,
        events=events,
    )


def _world(interactions: list[Interaction]) -> World:
    return World(
        as_of=dt.date(2025, 12, 31),
        people=[],
        interactions=interactions,
        survey_responses=[],
        config_yaml=CONFIG,
    )


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory) -> Iterator:
    users = {
        HELP: "help-secret",
        HR: "hr-secret",
        "crash@x": "c",
        "uidv@x": "u",
        "q@x": "q",
        "nomid@x": "n",
    }
    with start_dovecot(tmp_path_factory.mktemp("imap"), users) as running:
        yield running


def _extract(
    url: str,
    dovecot,
    source: str,
    user: str,
    until: dt.datetime = UNTIL,
    fail_after_pages: int | None = None,
    batch_size: int | None = None,
):
    cfg = DeploymentConfig.model_validate(yaml.safe_load(CONFIG))
    district, src = cfg.source(source)
    if batch_size is not None:
        src = src.model_copy(update={"options": {**src.options, "batch_size": batch_size}})
        src = type(src).model_validate(src.model_dump())
    conn = Connection(
        conn_id=src.conn_id, **{k: v for k, v in dovecot.connection(source, user).items()}
    )
    ctx = ConnectorContext(district, src, conn, run_id="t", warehouse_url=url)

    def limited(pages):
        for n, page in enumerate(pages):
            if fail_after_pages is not None and n == fail_after_pages:
                raise ConnectionError("worker killed between batches")
            yield page

    with RawWriter(
        url, source_instance=source, source_type="imap", district_id="1700001", run_id="t"
    ) as writer:
        return writer.write_pages(limited(ImapConnector(ctx).pages(writer.state(), until)))


def _rows(url: str, source: str) -> dict[str, dict]:
    with psycopg.connect(url) as conn:
        rows = select_whole(
            conn,
            "select source_id, payload, payload_z, payload_dict from raw.imap_messages"
            " where source_instance = %s",
            (source,),
        )
    return dict(rows)


def _snapshot(url: str):
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select count(*), md5(string_agg(source_id || updated_at::text || payload::text"
            " || coalesce(encode(payload_z, 'hex'), ''), ',' order by source_id, updated_at))"
            " from raw.imap_messages"
        ).fetchone()


def _raw_message(
    sender: str,
    to: str,
    subject: str,
    date: str | None = "Mon, 1 Dec 2025 10:00:00 +0000",
    message_id: str | None = None,
    extra: str = "",
) -> bytes:
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}"]
    if date:
        lines.append(f"Date: {date}")
    if message_id:
        lines.append(f"Message-ID: <{message_id}>")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n(body)\r\n").encode()


def test_full_incremental_rerun_and_threads(warehouse, dovecot):
    first = _world([_interaction(n, auto=n == 4) for n in range(1, 9)])
    expected_first = render_source(first, "d1-mail")
    deliver_world(dovecot, first, "d1-mail", HELP)
    assert dovecot.connection("d1-mail")["login"] == HELP  # the mailbox deliver_world filled

    full = _extract(warehouse, dovecot, "d1-mail", HELP)
    assert (full.inserted, full.quarantined_total) == (len(expected_first), 0)
    assert full.pages > 2  # batch_size 4: several batches per folder

    # Rerun of the same window: nothing new, raw unchanged byte for byte.
    before = _snapshot(warehouse)
    again = _extract(warehouse, dovecot, "d1-mail", HELP)
    assert (again.inserted, again.received) == (0, 0)
    assert _snapshot(warehouse) == before

    # New mail: a new interaction, a late reply with neither In-Reply-To nor References to a
    # thread landed in the previous run (subject fallback via the warehouse), a reply with only
    # In-Reply-To to an agent message landed before, and a message after `until`.
    late = _world([_interaction(9, day=60)])
    deliver_world(dovecot, late, "d1-mail", HELP)
    i3 = first.interactions[2]
    deliver(
        dovecot,
        HELP,
        "INBOX",
        _raw_message(
            i3.requester.email,
            HELP,
            f"RE: [External] {i3.subject}",
            date="Sat, 20 Sep 2025 09:00:00 +0000",
            message_id="late-headerless@gmail.com",
        ),
    )
    deliver(
        dovecot,
        HELP,
        "INBOX",
        _raw_message(
            "parent5@gmail.com",
            HELP,
            "Re: Bus route question 5",
            message_id="irt-only@gmail.com",
            date="Sat, 4 Oct 2025 09:00:00 +0000",
            extra="In-Reply-To: <i5.e51@lincoln.k12.il.us>\r\n",
        ),
    )
    future = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    deliver(
        dovecot,
        HELP,
        "INBOX",
        _raw_message(
            "parent1@gmail.com",
            HELP,
            "later",
            date="Sun, 1 Feb 2026 00:00:00 +0000",
            message_id="future@gmail.com",
        ),
        when=future,
    )

    incremental = _extract(warehouse, dovecot, "d1-mail", HELP)
    assert incremental.inserted == 3 + 2
    rows = _rows(warehouse, "d1-mail")
    assert "future@gmail.com" not in rows  # after `until`: left for the next window
    with psycopg.connect(warehouse) as conn:
        state = read_state(conn, "d1-mail")
    inbox_before = sum(m.folder == "INBOX" for m in expected_first)
    assert state["INBOX"]["last_uid"] == inbox_before + 2 + 2  # stops before the future one
    later = _extract(warehouse, dovecot, "d1-mail", HELP, until=future)
    assert later.inserted == 1

    # Threads, directions and automation, for every rendered message.
    for m in expected_first + render_source(late, "d1-mail"):
        got = rows[m.message_id]["_schoolcx"]
        interaction = next(
            i
            for i in first.interactions + late.interactions
            if i.interaction_id == m.interaction_id
        )
        assert got["thread_id"] == expected_thread_id(interaction), m.message_id
        assert got["is_automated"] is m.automated
        assert got["direction"] == ("outbound" if m.folder == "Sent" else "inbound")
    assert rows["late-headerless@gmail.com"]["_schoolcx"]["thread_id"] == "i3.0@gmail.com"
    assert rows["irt-only@gmail.com"]["_schoolcx"]["thread_id"] == "i5.0@gmail.com"
    # Interaction 1 replies carry References only, interaction 2's requester reply neither.
    assert rows["i1.e11@lincoln.k12.il.us"]["in_reply_to"] is None
    assert rows["i2.e22@gmail.com"]["references"] == []
    auto = rows["i4.e40@lincoln.k12.il.us"]
    assert auto["headers"]["auto_submitted"] == "auto-replied"
    assert auto["_schoolcx"]["sender_is_district"] is True
    sample = rows["i3.0@gmail.com"]
    assert sample["from_domain"] == "gmail.com" and sample["to_domains"] == [DOMAIN]
    assert sample["mailbox"] == HELP and sample["folder"] == "INBOX"
    with psycopg.connect(warehouse) as conn:
        hashes = conn.execute(
            "select count(*) filter (where person_hash is null),"
            " count(distinct person_hash) from raw.imap_messages"
        ).fetchone()
    assert hashes[0] == 0 and hashes[1] > 5


def test_internal_mailbox_direction(warehouse, dovecot):
    staff = Person(50, f"teacher@{DOMAIN}", "Teacher", "staff")
    world = _world([_interaction(50, source="d1-hr", requester=staff)])
    deliver_world(dovecot, world, "d1-hr", HR)
    # A responder writing into the mailbox from her own address is an agent; another staff
    # member is a requester even though the domain is the district's.
    deliver(
        dovecot,
        HR,
        "INBOX",
        _raw_message(f"lead@{DOMAIN}", f"other@{DOMAIN}", "Payroll", message_id="lead-note@x"),
    )
    deliver(
        dovecot,
        HR,
        "INBOX",
        _raw_message(f"other@{DOMAIN}", HR, "W-2 copy", message_id="other-ask@x"),
    )
    _extract(warehouse, dovecot, "d1-hr", HR)
    rows = _rows(warehouse, "d1-hr")
    direction = {k: v["_schoolcx"]["direction"] for k, v in rows.items()}
    assert direction["i50.0@lincoln.k12.il.us"] == "inbound"
    assert rows["i50.0@lincoln.k12.il.us"]["_schoolcx"]["sender_is_district"] is True
    assert direction["i50.e501@lincoln.k12.il.us"] == "outbound"  # reply in Sent
    assert direction["i50.e502@lincoln.k12.il.us"] == "inbound"  # staff writes again
    assert direction["lead-note@x"] == "outbound"
    assert direction["other-ask@x"] == "inbound"
    assert {v["_schoolcx"]["thread_id"] for k, v in rows.items() if k.startswith("i50.")} == {
        "i50.0@lincoln.k12.il.us"
    }


def test_uidvalidity_change_resyncs_without_duplicates(warehouse, dovecot):
    world = _world([_interaction(n, source="d1-mail") for n in (20, 21, 22)])
    deliver_world(dovecot, world, "d1-mail", "uidv@x")
    first = _extract(warehouse, dovecot, "d1-mail", "uidv@x")
    before = _snapshot(warehouse)
    with psycopg.connect(warehouse) as conn:
        old = read_state(conn, "d1-mail")
    new_validity = change_uidvalidity(dovecot, "uidv@x", "INBOX")
    deliver(
        dovecot,
        "uidv@x",
        "INBOX",
        _raw_message(
            "parent20@gmail.com",
            "uidv@x",
            "Re: Bus route question 20",
            message_id="after-resync@gmail.com",
        ),
    )
    resync = _extract(warehouse, dovecot, "d1-mail", "uidv@x")
    # Every INBOX message is read again, only the genuinely new one lands.
    assert resync.received == old["INBOX"]["last_uid"] + 1
    assert resync.inserted == 1
    with psycopg.connect(warehouse) as conn:
        state = read_state(conn, "d1-mail")
        dupes = conn.execute(
            "select count(*) - count(distinct source_id) from raw.imap_messages"
        ).fetchone()[0]
    assert state["INBOX"] == {"uidvalidity": new_validity, "last_uid": old["INBOX"]["last_uid"] + 1}
    assert state["Sent"] == old["Sent"]
    assert dupes == 0 and first.inserted + 1 == _snapshot(warehouse)[0] == before[0] + 1


def test_crash_between_batches_resumes_exactly(warehouse, dovecot):
    world = _world([_interaction(n, source="d1-mail") for n in range(30, 36)])
    total = len(render_source(world, "d1-mail"))
    deliver_world(dovecot, world, "d1-mail", "crash@x")
    with pytest.raises(ConnectionError):
        _extract(warehouse, dovecot, "d1-mail", "crash@x", fail_after_pages=1, batch_size=3)
    with psycopg.connect(warehouse) as conn:
        state = read_state(conn, "d1-mail")
        assert list(state) == ["INBOX"] and state["INBOX"]["last_uid"] == 3
        assert conn.execute("select count(*) from raw.imap_messages").fetchone()[0] == 3
    resumed = _extract(warehouse, dovecot, "d1-mail", "crash@x", batch_size=3)
    assert (resumed.received, resumed.inserted) == (total - 3, total - 3)
    with psycopg.connect(warehouse) as conn:
        assert conn.execute(
            "select count(*), count(distinct source_id) from raw.imap_messages"
        ).fetchone() == (total, total)


def test_quarantine_and_messages_without_message_id(warehouse, dovecot):
    deliver(
        dovecot,
        "q@x",
        "INBOX",
        _raw_message("a@gmail.com", "q@x", "no id, no date", date=None),
        when=T0,
    )
    deliver(
        dovecot,
        "q@x",
        "INBOX",
        _raw_message("undisclosed", "q@x", "bad from", message_id="bad-from@x"),
    )
    deliver(dovecot, "q@x", "INBOX", _raw_message("b@gmail.com", "q@x", "no id but dated"))
    deliver(
        dovecot,
        "q@x",
        "INBOX",
        _raw_message(
            "list@news.org",
            "q@x",
            "Newsletter",
            message_id="news@x",
            extra="List-Id: <news.news.org>\r\nPrecedence: bulk\r\n",
        ),
    )
    summary = _extract(warehouse, dovecot, "d1-mail", "q@x")
    assert dict(summary.quarantined) == {"missing_message_id_and_date": 1, "unparsable_headers": 1}
    rows = _rows(warehouse, "d1-mail")
    no_id = [k for k, v in rows.items() if v["message_id"] is None]
    assert len(no_id) == 1 and no_id[0].endswith("@no-message-id.invalid")
    assert rows[no_id[0]]["uid"] == 3 and rows[no_id[0]]["subject"] == "no id but dated"
    assert rows["news@x"]["_schoolcx"]["is_automated"] is True
    with psycopg.connect(warehouse) as conn:
        q = conn.execute(
            "select reason, field, source_position, record_id from quarantine.records"
            " order by reason"
        ).fetchall()
    assert [r[:2] for r in q] == [
        ("missing_message_id_and_date", "message-id"),
        ("unparsable_headers", "from"),
    ]
    assert all(r[2].startswith("INBOX:") for r in q)
    # identified by the header block, not by folder state a UIDVALIDITY change renumbers
    assert all(r[3].startswith("headers-sha256:") for r in q)


def test_plain_imap_and_wrong_password(warehouse, tmp_path, monkeypatch):
    from schoolcx.connectors.base import ConnectorError

    cfg = DeploymentConfig.model_validate(yaml.safe_load(CONFIG))
    district, src = cfg.source("d1-mail")
    plain = type(src).model_validate(
        {**src.model_dump(exclude={"options"}), "options": {**src.options, "ssl": False}}
    )
    with start_dovecot(tmp_path, {HELP: "pw"}, use_ssl=False) as running:
        deliver(
            running, HELP, "INBOX", _raw_message("a@gmail.com", HELP, "hi", message_id="plain@x")
        )
        kwargs = running.connection("d1-mail")
        assert kwargs["extra"] == {}  # no certificate without TLS
        good = Connection(conn_id="d1_mail", **kwargs)
        pages = list(ImapConnector(ConnectorContext(district, plain, good)).pages({}, UNTIL))
        assert [r.source_id for p in pages for r in p.records] == ["plain@x"]
        bad = Connection(conn_id="d1_mail", **{**kwargs, "password": "nope"})
        with pytest.raises(ConnectorError, match="'d1_mail'") as err:
            list(ImapConnector(ConnectorContext(district, plain, bad)).pages({}, UNTIL))
        assert "nope" not in str(err.value)
        # The session's socket timeout is the deployment's (default 60 s)
        connector = ImapConnector(ConnectorContext(district, plain, good))
        session = connector._connect()
        assert session.sock.gettimeout() == 60.0
        session.logout()
        monkeypatch.setenv("SCHOOLCX_IMAP_TIMEOUT_SECONDS", "7.5")
        session = connector._connect()
        assert session.sock.gettimeout() == 7.5
        session.logout()


def test_subject_fallback_rules():
    from schoolcx.connectors.email_threads import ThreadIndex, is_reply_subject, parse_headers

    def msg(subject: str, mid: str) -> bytes:
        return _raw_message("p@gmail.com", HELP, subject, message_id=mid, date=None)

    index = ThreadIndex()
    at = T0
    assert index.resolve("a@x", parse_headers(msg("Bus", "a@x")), "p@gmail.com", at) == "a@x"
    # A fresh message reusing the subject is a new contact; a marked reply joins the thread,
    # within 30 days of its latest message only, and only with the same counterpart.
    assert index.resolve("b@x", parse_headers(msg("Bus", "b@x")), "p@gmail.com", at) == "b@x"
    reply = parse_headers(msg("[Ext] RE: Fwd: bus", "c@x"))
    assert index.resolve("c@x", reply, "p@gmail.com", at + dt.timedelta(days=29)) == "b@x"
    assert index.resolve("d@x", reply, "q@gmail.com", at) == "d@x"
    late = at + dt.timedelta(days=29 + 31)
    assert index.resolve("e@x", parse_headers(msg("Re: Bus", "e@x")), "p@gmail.com", late) == "e@x"
    assert (
        is_reply_subject("AW: x")
        and not is_reply_subject("[Ext] Bus")
        and not is_reply_subject("Regarding: bus")
    )


def test_generated_world_threads(warehouse, tmp_path):
    from schoolcx.sandbox.demo.generator import generate_world
    from schoolcx.sandbox.demo.spec import small_spec

    world = generate_world(small_spec())
    cfg = DeploymentConfig.model_validate(yaml.safe_load(world.config_yaml))
    sources = [(d, s) for d, s in cfg.sources() if s.type == "imap"]
    users = {s.opts.mailbox_address: f"pw-{s.name}" for _d, s in sources}
    with start_dovecot(tmp_path, users, use_ssl=sources[0][1].opts.ssl) as running:
        for district, source in sources:
            deliver_world(running, world, source.name, source.opts.mailbox_address)
            conn = Connection(conn_id=source.conn_id, **running.connection(source.name))
            ctx = ConnectorContext(district, source, conn, warehouse_url=warehouse)
            records = [r for p in ImapConnector(ctx).pages({}, UNTIL) for r in p.records]
            rendered = {m.message_id: m for m in render_source(world, source.name)}
            interactions = {i.interaction_id: i for i in world.for_source(source.name)}
            assert {r.source_id for r in records} == set(rendered)
            for r in records:
                m = rendered[r.source_id]
                assert r.payload["_schoolcx"]["thread_id"] == expected_thread_id(
                    interactions[m.interaction_id]
                )
                assert r.payload["_schoolcx"]["is_automated"] is m.automated


@pytest.mark.parametrize(
    ("value", "automated"),
    [
        ("no", False),
        ("No; reason=manual", False),  # parameters after ';' (RFC 3834)
        ("no (sent by a person)", False),  # a comment
        ("auto-replied", True),
        ("auto-generated; owner-email=x@y", True),
    ],
)
def test_auto_submitted_value_without_parameters_or_comments(value, automated):
    from schoolcx.connectors.email_threads import parse_headers

    raw = f"From: a@gmail.com\r\nTo: help@d.org\r\nAuto-Submitted: {value}\r\n\r\n".encode()
    assert parse_headers(raw).is_automated is automated


def _without_message_id(url: str) -> dict[str, tuple[str, str, int]]:
    """from address + subject -> (source_id, thread id, versions landed) of the test's mail."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select (payload->>'from_address') || ' ' || (payload->>'subject'), source_id,"
            " payload->'_schoolcx'->>'thread_id', count(*) over (partition by source_id)"
            " from raw.imap_messages"
            " where payload->>'message_id' is null and payload->>'from_address' like 'parent7_@%'"
        ).fetchall()
    return {key: (sid, thread, n) for key, sid, thread, n in rows}


def test_messages_without_message_id_survive_a_uidvalidity_change(warehouse, dovecot):
    """Defect 11: a message without a Message-ID gets an identity from its own headers (never
    the UID or folder state), so re-reading a folder after a UIDVALIDITY change lands nothing
    twice, and every such message keeps its thread."""
    user = "nomid@x"
    for raw in (
        _raw_message("parent70@gmail.com", user, "Lost lunch card"),
        _raw_message(
            "parent70@gmail.com", user, "Re: Lost lunch card", date="Tue, 2 Dec 2025 09:30:00 +0000"
        ),
        # the same subject and time from another sender is another message
        _raw_message("parent71@gmail.com", user, "Lost lunch card"),
    ):
        deliver(dovecot, user, "INBOX", raw)
    landed = _extract(warehouse, dovecot, "d1-mail", user)
    assert (landed.inserted, landed.quarantined_total) == (3, 0)
    before = _without_message_id(warehouse)
    first, reply, other = (
        before["parent70@gmail.com Lost lunch card"],
        before["parent70@gmail.com Re: Lost lunch card"],
        before["parent71@gmail.com Lost lunch card"],
    )
    assert len({first[0], reply[0], other[0]}) == 3
    assert not any(sid.startswith("uid:") for sid, _t, _n in before.values())
    # threads: the first message roots its own thread, the marked reply joins it (subject
    # fallback, same counterpart), the other sender's message is a thread of its own
    assert (first[1], reply[1], other[1]) == (first[0], first[0], other[0])

    change_uidvalidity(dovecot, user, "INBOX")
    resync = _extract(warehouse, dovecot, "d1-mail", user)
    assert (resync.received, resync.inserted) == (3, 0)
    assert _without_message_id(warehouse) == before  # same ids, same threads, one version each
    assert {n for _sid, _t, n in before.values()} == {1}
