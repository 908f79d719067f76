"""Issue 14, "Done when": a run over data with every defect's trigger loses nothing.

One small world per source holds the trigger of each extraction defect the issue lists; every
source is extracted twice through its real connector and RawWriter (the second run changes
nothing), then once more after `source reset` (every record, the bad ones too, read again:
still nothing changes), and then every record the vendor served is accounted for: the set of ids the
emulator, dovecot or the dropped files served (worked out here from what the test built, not
from the connector) is exactly the disjoint union of the ids in raw and the ids in
quarantine.records, each quarantined one with the reason its trigger calls for, once.

Triggers (defect numbers of the issue):
- Freshdesk (1, 4, 7): per_page=1 and a ticket updated while its window is paged; a custom
  status (6) the account lists in ticket_fields; a priority code outside 1-4; a ticket from
  the custom source 101 "Walk-in".
- Zendesk (4, 6): deleted twins in the export, a ticket made through the API (`api` channel),
  compact comment events, and a ticket updated between two cursor pages.
- IMAP (11): a message without a Message-ID, and a UIDVALIDITY change between the two runs
  (real dovecot).
- Qualtrics (2, 3): one point-of-contact survey asking the rating on two questions with
  different scales, an email thread's root Message-ID in mixed case as the reference, and one
  rating outside its scale.
- SurveyMonkey (1): a response modified while the list is paged (per_page=2).
- CSV drop (8): the same row in two overlapping files; a file that is not UTF-8.
- Climate wide (9): a Google Forms export (no id column) whose rows overlap between two files,
  with an answer label the map does not know and an open question nobody maps.
Two dbt builds then check what staging makes of them: the email ratings attach to their thread,
the unknown reference and a call answered before it was created are rejected with reasons; the
walk-in source, the custom status, `api` and the compact comments are read, and the deleted
twins are no interactions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from decimal import Decimal
from pathlib import Path
from unittest.mock import patch

import psycopg
import yaml

from schoolcx.config import DeploymentConfig, District, Source
from schoolcx.connections import Connection
from schoolcx.connectors.base import ConnectorContext
from schoolcx.connectors.file_drop import FileDropConnector
from schoolcx.connectors.imap import ImapConnector
from schoolcx.connectors.qualtrics import QualtricsConnector
from schoolcx.connectors.surveymonkey import SurveyMonkeyConnector
from schoolcx.connectors.zendesk import ZendeskConnector
from schoolcx.load import packing
from schoolcx.load.raw_writer import RawWriter
from schoolcx.load.source_state import finish_reset, pending_reset, reset_source
from schoolcx.refsync import sync_config
from schoolcx.sandbox.demo.world import Event, Rating, SurveyAnswerSet, World
from schoolcx.sandbox.emulators import freshdesk as fd_emulator
from schoolcx.sandbox.emulators import qualtrics, surveymonkey
from schoolcx.sandbox.emulators import zendesk as zd_emulator
from schoolcx.sandbox.emulators.imap_server import (
    change_uidvalidity,
    deliver,
    deliver_world,
    expected_thread_id,
    render_source,
    start_dovecot,
)
from tests import test_freshdesk as fdt
from tests.faults_support import AGENT as ZD_AGENT
from tests.faults_support import ZD_SOURCE, zd_config, zd_ticket, zd_world
from tests.faults_support import at as zd_at
from tests.test_freshdesk_paging import _once
from tests.test_helpdesk_codes import raw_ticket
from tests.test_survey_ratings import _dbt_build

LINCOLN = "1700001"


# ---- the accounting -------------------------------------------------------------------------


def raw_ids(url: str, table: str, source: str) -> set[str]:
    """Ids of the records in raw (every id has a latest version: the set of ids is it)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f"select distinct source_id from raw.{table} where source_instance = %s", (source,)
        ).fetchall()
    return {r[0] for r in rows}


def quarantined(url: str, source: str, stream: str | None = None) -> list[tuple]:
    """(record_id, reason, field, source_position) of every quarantine row of the source."""
    sql = (
        "select record_id, reason, field, source_position from quarantine.records"
        " where source_instance = %s"
    )
    args: tuple = (source,)
    if stream is not None:
        sql += " and stream = %s"
        args += (stream,)
    with psycopg.connect(url) as conn:
        return conn.execute(sql + " order by quarantine_id", args).fetchall()


def snapshot(url: str) -> tuple:
    """Every raw version and quarantine row (what a second run must leave as it is)."""
    with psycopg.connect(url) as conn:
        raw = {
            t: conn.execute(
                f"select source_instance, source_id, updated_at, md5(payload::text),"
                f" md5(payload_z) from raw.{t} order by 1, 2, 3"
            ).fetchall()
            for t in packing.raw_tables(conn)  # the landing tables (not raw.payload_dicts)
        }
        raw["payload_dicts"] = conn.execute(
            "select raw_table, md5(zdict) from raw.payload_dicts order by 1"
        ).fetchall()
        q = conn.execute(
            "select source_instance, stream, record_identity, reason, field, source_position"
            " from quarantine.records order by 1, 2, 3, 4, 5"
        ).fetchall()
    return raw, q


def assert_accounted(
    url: str,
    source: str,
    table: str,
    served: set[str],
    reasons: dict[str, str],
    stream: str | None = None,
) -> None:
    """served == raw ids + quarantined ids, disjoint; each quarantined id once, with the reason
    its trigger calls for (`reasons`: id -> reason; every other served id must be in raw)."""
    landed = raw_ids(url, table, source)
    q = quarantined(url, source, stream)
    q_ids = [r[0] for r in q]
    assert None not in q_ids, f"{source}: a quarantine row without its record id: {q}"
    assert len(q_ids) == len(set(q_ids)), f"{source}: a record quarantined twice: {q}"
    assert all(r[1] for r in q), q
    assert not landed & set(q_ids), f"{source}: in raw and in quarantine: {landed & set(q_ids)}"
    assert served - landed - set(q_ids) == set(), f"{source}: served, but lost"
    assert (landed | set(q_ids)) - served == set(), f"{source}: landed but never served"
    assert {r[0]: r[1] for r in q} == reasons, source


def twice(url: str, run, source: str) -> None:
    """Run an extract, then again: the second run changes nothing in raw or quarantine. Then
    `schoolcx source reset` (state cleared) and a third run that re-reads everything, the bad
    records too (as a ratings lookback or a resumed file does): still nothing changes, and no
    quarantined record is counted again (defect 10)."""
    run()
    before = snapshot(url)
    again = run()
    assert snapshot(url) == before, f"{source}: the second run changed raw or quarantine"
    assert again.inserted == 0 and again.quarantined_total == 0, (source, again.line())
    reset_source(url, source, None)
    offered: list[tuple] = []  # the bad records the connector hands the writer again
    real = RawWriter._quarantine

    def watched(writer, conn, page):
        offered.extend((q.record_id, q.reason, q.field) for q in page.quarantined)
        return real(writer, conn, page)

    with patch.object(RawWriter, "_quarantine", watched):
        reread = run()
    finish_reset(url, source, pending_reset(url, source))
    assert reread.received > 0 and reread.inserted == 0, (source, reread.line())
    assert reread.quarantined_total == 0, (source, reread.line())
    with psycopg.connect(url) as conn:
        held = conn.execute(
            "select record_id, reason, field from quarantine.records where source_instance = %s",
            (source,),
        ).fetchall()
    assert set(held) <= set(offered), f"{source}: the re-read did not meet its bad records again"
    assert snapshot(url) == before, f"{source}: re-reading from the start changed raw or quarantine"


# ---- Freshdesk -------------------------------------------------------------------------------


def test_freshdesk_loses_nothing(warehouse):
    freshdesk_night(warehouse)


def freshdesk_night(warehouse: str) -> None:
    world = fdt.make_world()
    world.interactions.append(fdt._ticket(7, fdt.at(11, 26), [], channel="walk_in"))  # 101
    t1 = world.interactions[0]
    custom_status = raw_ticket(24, status=6)  # "Waiting on Customer", listed in ticket_fields
    odd_priority = {**raw_ticket(25), "priority": 9}  # no such priority
    odd_status = raw_ticket(26, status=9)  # a status the account does not list
    with fd_emulator.serve(world, [fdt.SOURCE]) as fd:
        fd.add_raw(fdt.SOURCE, "tickets", custom_status)
        fd.add_raw(fdt.SOURCE, "tickets", odd_priority)
        fd.add_raw(fdt.SOURCE, "tickets", odd_status)
        # ticket 1 is updated once its page is served: page-number paging hid ticket 2
        fd.after_page = _once(
            "tickets",
            lambda records: [r["id"] for r in records] == [1],
            lambda: t1.events.append(
                Event(fdt.at(11, 29, 12), "agent_note", fdt.AGENT, None, next(fdt._ids))
            ),
        )
        twice(
            warehouse,
            lambda: fdt.extract(warehouse, fd, fdt.UNTIL, per_page=1, window_days=120),
            fdt.SOURCE,
        )
        served = {kind: fd.records(fdt.SOURCE, kind) for kind in fdt_kinds()}
    tickets = {t["id"]: t for t in served["tickets"]}
    # the triggers are in what was served
    assert tickets[7]["source"] == fd_emulator.WALK_IN_SOURCE and tickets[24]["status"] == 6
    assert tickets[1]["updated_at"] == "2025-11-29T12:00:00Z"
    for kind, records in served.items():
        reasons = {}
        if kind == "tickets":
            reasons = {"25": "unknown_priority_code", "26": "unknown_status_code"}
        assert_accounted(
            warehouse,
            fdt.SOURCE,
            f"freshdesk_{kind}",
            {str(r["id"]) for r in records},
            reasons,
            stream=kind,
        )
    with psycopg.connect(warehouse) as conn:
        final_t1 = packing.select_whole(  # the whole record: staging reads the row's version
            conn,
            "select payload, payload_z, payload_dict from raw.freshdesk_tickets"
            " where source_id = '1' order by updated_at desc limit 1",
        )[0][0]["updated_at"]
    assert final_t1 == "2025-11-29T12:00:00Z"  # the update landed too


def fdt_kinds() -> tuple[str, ...]:
    return tuple(k.removeprefix("freshdesk_") for k in fdt.TABLES)


# ---- Zendesk ---------------------------------------------------------------------------------


def test_zendesk_loses_nothing(warehouse):
    zendesk_night(warehouse)


def zendesk_night(warehouse: str) -> World:
    world = zd_world(8)
    # ticket 3's comments come compact (every third ticket's do): let an agent answer it
    world.interactions[2] = zd_ticket(3, world.interactions[2].created_at, answered=True)
    world.interactions[1].channel = "other"  # made through the API: via.channel "api"
    first, last = world.interactions[0], world.interactions[-1]
    cfg = DeploymentConfig.model_validate(zd_config(page_size=2))
    district, source = cfg.source(ZD_SOURCE)
    seen: dict[str, int] = {}

    def update_between_pages(stream: str) -> None:
        # after the second tickets page of the first run: a ticket already read and one not
        # yet read are answered again (both move to the end of the cursor export)
        seen[stream] = seen.get(stream, 0) + 1
        if (stream, seen[stream]) == ("tickets", 2):
            for t in (first, last):
                t.events.append(
                    Event(zd_at(9, 30, 12), "agent_reply", ZD_AGENT, None, 9000 + t.interaction_id)
                )

    with zd_emulator.serve(world, [ZD_SOURCE]) as running:
        conn = Connection("zd_d1", **running.connection(ZD_SOURCE))

        def run():
            connector = ZendeskConnector(
                ConnectorContext(district, source, conn), policy=fdt.FAST, sleep=lambda s: None
            )

            def watched(pages):
                for page in pages:
                    yield page
                    update_between_pages(page.stream)

            with RawWriter(
                warehouse,
                source_instance=ZD_SOURCE,
                source_type="zendesk",
                district_id=LINCOLN,
                run_id="acct",
            ) as writer:
                return writer.write_pages(watched(connector.pages(writer.state(), UNTIL_ZD)))

        twice(warehouse, run, ZD_SOURCE)
        final = zd_emulator.render(world, ZD_SOURCE)
    # the triggers are in what was served
    assert any(t["status"] == "deleted" for t in final.tickets)
    via = {t["id"]: t["via"]["channel"] for t in final.tickets}
    assert via[world.interactions[1].interaction_id] == "api"  # a live one, not a twin
    assert any(
        "comment_public" in c for e in final.ticket_events for c in e.get("child_events", [])
    )
    assert seen["tickets"] > 2  # the update happened while the export was being paged
    for kind in ("tickets", "users", "groups", "organizations", "satisfaction_ratings"):
        ids = {str(r["id"]) for r in getattr(final, kind)}
        assert_accounted(warehouse, ZD_SOURCE, f"zendesk_{kind}", ids, {}, stream=kind)
    # ticket events: every audit served is in raw (its id is the audit's id)
    ids = {str(e["id"]) for e in final.ticket_events}
    assert_accounted(warehouse, ZD_SOURCE, "zendesk_ticket_events", ids, {}, "ticket_events")
    with psycopg.connect(warehouse) as conn:
        versions = conn.execute(
            "select distinct on (source_id) payload->>'updated_at' from raw.zendesk_tickets"
            " where source_id in (%s, %s) order by source_id, updated_at desc",
            (str(first.interaction_id), str(last.interaction_id)),
        ).fetchall()
    assert versions == [("2025-09-30T12:00:00Z",)] * 2  # both updates landed
    return world


UNTIL_ZD = dt.datetime(2025, 9, 30, 23, tzinfo=dt.UTC)


# ---- IMAP, Qualtrics (email ratings), SurveyMonkey ----------------------------------------

DOMAIN = "lincoln.k12.il.us"
MAILBOX = f"help@{DOMAIN}"
CONFIG = f"""
name: intake-accounting
districts:
  - district_id: "{LINCOLN}"
    name: Lincoln
    state: IL
    timezone: America/Chicago
    enrollment: {{2026: 5000}}
    mail_domains: [{DOMAIN}]
    sources:
      - name: lincoln-help
        type: imap
        conn_id: mail
        start_date: 2025-08-01
        options: {{mailbox_address: {MAILBOX}, batch_size: 2, ssl: false}}
      - name: lincoln-qx-poc
        type: qualtrics
        conn_id: qx
        start_date: 2025-08-01
        options: {{survey_id: SV_poc, kind: point_of_contact, interaction_ref_question: ticket_ref,
                   rating_questions: {{QID5: [1, 5], QID7: [0, 10]}}}}
      - name: lincoln-sm
        type: surveymonkey
        conn_id: sm
        start_date: 2025-08-01
        options: {{survey_id: "500001", item_map: {{"101": safe_school, "102": respect}},
                   per_page: 2}}
"""
UNTIL = dt.datetime(2025, 12, 31, tzinfo=dt.UTC)


def _cfg(calls: Path | None = None) -> DeploymentConfig:
    """The deployment; with `calls`, also the CSV drop source reading that folder."""
    data = yaml.safe_load(CONFIG)
    if calls is not None:
        data["districts"][0]["sources"].append(
            {
                "name": "lincoln-calls",
                "type": "file_drop",
                "start_date": "2025-08-01",
                "options": {"path": str(calls), "kind": "interactions", "columns": COLUMNS},
            }
        )
    return DeploymentConfig.model_validate(data)


def _writer(url: str, source: Source) -> RawWriter:
    return RawWriter(
        url, source_instance=source.name, source_type=source.type, district_id=LINCOLN, run_id="a"
    )


def _mail_world() -> World:
    world = zd_world(4)
    for t in world.interactions:
        t.source_name, t.channel = "lincoln-help", "email"
    world.config_yaml = CONFIG
    return world


NO_ID = (
    b"From: Parent 70 <parent70@gmail.com>\r\nTo: help@lincoln.k12.il.us\r\n"
    b"Subject: Lost lunch card\r\nDate: Tue, 2 Sep 2025 09:30:00 +0000\r\n\r\n(body)\r\n"
)


def test_imap_loses_nothing_across_a_uidvalidity_change(warehouse, tmp_path):
    imap_night(warehouse, tmp_path)


def imap_night(warehouse: str, tmp_path: Path) -> None:
    world = _mail_world()
    district, source = _cfg().source("lincoln-help")
    with start_dovecot(tmp_path / "imap", {MAILBOX: "pw"}, use_ssl=False) as running:
        deliver_world(running, world, "lincoln-help", MAILBOX)
        deliver(running, MAILBOX, "INBOX", NO_ID)
        conn = Connection("mail", **running.connection("lincoln-help", MAILBOX))
        runs = []

        def run():
            if runs:  # between the two runs the server renumbers the INBOX
                change_uidvalidity(running, MAILBOX, "INBOX")
            ctx = ConnectorContext(district, source, conn, warehouse_url=warehouse)
            with _writer(warehouse, source) as writer:
                runs.append(writer.write_pages(ImapConnector(ctx).pages(writer.state(), UNTIL)))
            return runs[-1]

        twice(warehouse, run, "lincoln-help")
    assert runs[1].received > 0  # the second run did read the renumbered INBOX again
    served = {m.message_id for m in render_source(world, "lincoln-help")}
    landed = raw_ids(warehouse, "imap_messages", "lincoln-help")
    assert quarantined(warehouse, "lincoln-help") == []
    # the world's messages by their Message-ID; the one without, once, by a derived identity
    assert served <= landed
    (no_id,) = landed - served
    assert no_id.endswith("@no-message-id.invalid")


def _poc(rid: str, hours: int, ref: str, scale: str, value: int) -> SurveyAnswerSet:
    at = dt.datetime(2025, 9, 10, 15, tzinfo=dt.UTC) + dt.timedelta(hours=hours)
    return SurveyAnswerSet(
        rid, LINCOLN, "lincoln-qx-poc", at, "parent", {}, rating=Rating(at, scale, value),
        interaction_ref=ref,
    )  # fmt: skip


def test_point_of_contact_ratings_lose_nothing(warehouse):
    poc_night(warehouse)


def poc_night(warehouse: str) -> None:
    thread = expected_thread_id(_mail_world().interactions[0])  # i1.0@example.org
    mixed = "<" + thread[:2].upper() + thread[2:-3] + thread[-3:].upper() + ">"
    responses = [
        _poc("R_1", 1, mixed, "1-5", 4),  # QID5 (1-5), the thread's root Message-ID
        _poc("R_2", 2, mixed, "0-10", 9),  # the other variant, QID7 (0-10)
        _poc("R_3", 3, "lincoln-help:" + mixed.upper(), "1-5", 7),  # 7 on 1-5: out of scale
        _poc("R_4", 4, "<Nobody.9@x.org>", "0-10", 5),  # a thread nobody has: lands, rejected
    ]
    world = World(dt.date(2025, 12, 31), [], [], responses, CONFIG)
    district, source = _cfg().source("lincoln-qx-poc")
    with qualtrics.serve(world, ["lincoln-qx-poc"]) as running:
        conn = Connection("qx", **running.connection("lincoln-qx-poc"))

        def run():
            ctx = ConnectorContext(district, source, conn, warehouse_url=warehouse)
            with _writer(warehouse, source) as writer:
                return writer.write_pages(QualtricsConnector(ctx).pages(writer.state(), UNTIL))

        twice(warehouse, run, "lincoln-qx-poc")
    assert mixed != mixed.lower()
    assert_accounted(
        warehouse,
        "lincoln-qx-poc",
        "qualtrics_responses",
        {r.response_id for r in responses},
        {"R_3": "rating_out_of_scale"},
    )
    (field,) = {r[2] for r in quarantined(warehouse, "lincoln-qx-poc")}
    assert field == "QID5"
    with psycopg.connect(warehouse) as conn:
        refs = dict(
            conn.execute(
                "select source_id, payload->'_schoolcx'->>'interaction_ref'"
                " from raw.qualtrics_responses"
            ).fetchall()
        )
    assert refs == {
        "R_1": mixed,
        "R_2": mixed,
        "R_4": "<Nobody.9@x.org>",
    }  # kept whole for staging to compare


def _climate(n: int) -> SurveyAnswerSet:
    at = dt.datetime(2025, 9, 1, 15, tzinfo=dt.UTC) + dt.timedelta(hours=n)
    answers = {"safe_school": (n % 5) + 1, "respect": "dont_know" if n % 4 == 0 else None}
    return SurveyAnswerSet(f"9{n:05d}", LINCOLN, "lincoln-sm", at, "parent", answers)


def test_surveymonkey_response_modified_while_paged_loses_nothing(warehouse):
    world = World(dt.date(2025, 12, 31), [], [], [_climate(n) for n in range(6)], CONFIG)
    district, source = _cfg().source("lincoln-sm")
    modified = []
    with surveymonkey.serve(world, ["lincoln-sm"]) as running:
        responses = running.emulator.responses["500001"]

        def modify(served: int) -> None:
            # after the first page of the first run: 900000 (already read) moves to the end
            if served == 1 and not modified:
                r = next(r for r in responses if r["id"] == "900000")
                r["date_modified"] = "2025-09-02T12:00:00+00:00"
                modified.append(r["id"])

        running.emulator.on_bulk = modify
        kwargs = running.connection("lincoln-sm")
        kwargs["extra"] = {**kwargs["extra"], "retry_base_delay": 0.01}
        conn = Connection("sm", **kwargs)

        def run():
            with _writer(warehouse, source) as writer:
                connector = SurveyMonkeyConnector(ConnectorContext(district, source, conn))
                return writer.write_pages(connector.pages(writer.state(), UNTIL))

        twice(warehouse, run, "lincoln-sm")
        served = {r["id"] for r in running.emulator.responses["500001"]}
    assert modified == ["900000"]
    assert_accounted(warehouse, "lincoln-sm", "surveymonkey_responses", served, {})


# ---- dropped files ---------------------------------------------------------------------------

HEADER = "Call ID,Started,Channel,Priority,Caller Email,Answered\n"
COLUMNS = {
    "id": "Call ID",
    "created_at": "Started",
    "channel": "Channel",
    "priority": "Priority",
    "requester_email": "Caller Email",
    "first_response_at": "Answered",
}
DISTRICT = District(
    district_id=LINCOLN,
    name="Lincoln",
    state="IL",
    timezone="America/Chicago",
    enrollment={2026: 5000},
)


def _drop(path: Path, data: bytes, mtime: float) -> None:
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))


def _load_files(url: str, source: Source):
    ctx = ConnectorContext(DISTRICT, source, None)
    with _writer(url, source) as writer:
        return writer.write_pages(FileDropConnector(ctx).pages(writer.state(), UNTIL))


def test_csv_drop_loses_nothing(warehouse, tmp_path):
    csv_night(warehouse, tmp_path)


def csv_night(warehouse: str, tmp_path: Path) -> Path:
    folder = tmp_path / "calls"
    folder.mkdir()
    t1 = dt.datetime(2025, 9, 3, 12, tzinfo=dt.UTC).timestamp()
    c2 = "c2,2025-09-02T10:00:00-05:00,phone,{},b@x.org,\n"
    files = {  # file -> (its rows by id, its encoding, its mtime)
        "calls_0903.csv": ({"c1": "c1,2025-09-01T08:00:00-05:00,phone,high,a@x.org,\n",
                            "c2": c2.format("low")}, "utf-8", t1),
        # "last 7 days" exports: c2 again, corrected; c4 answered before it was created
        "calls_0904.csv": ({"c2": c2.format("urgent"),
                            "c3": "c3,2025-09-03T11:00:00-05:00,email,low,c@x.org,\n",
                            "c4": "c4,2025-09-03T11:00:00-05:00,phone,low,d@x.org,"
                                  "2025-09-03T10:00:00-05:00\n"}, "utf-8", t1 + 86400),
        # saved as Windows-1252
        "calls_0905.csv": ({"c10": "c10,2025-09-04T11:00:00-05:00,walk_in,low,jos\u00e9@x.org,\n"},
                           "cp1252", t1 + 2 * 86400),
    }  # fmt: skip
    for name, (rows, encoding, mtime) in files.items():
        _drop(folder / name, (HEADER + "".join(rows.values())).encode(encoding), mtime)
    _district, source = _cfg(folder).source("lincoln-calls")
    twice(warehouse, lambda: _load_files(warehouse, source), source.name)
    # The UTF-8 files' rows land by their own id (c2 once). The cp1252 file is quarantined
    # whole, once, naming the file: each of its rows is there and in no other place.
    readable = {rid for rows, enc, _t in files.values() if enc == "utf-8" for rid in rows}
    q = quarantined(warehouse, source.name)
    sha = hashlib.sha256((folder / "calls_0905.csv").read_bytes()).hexdigest()
    assert [(r[0], r[1], r[3]) for r in q] == [
        (f"calls_0905.csv@sha256:{sha}", "unreadable_file", "calls_0905.csv")
    ]
    assert raw_ids(warehouse, "file_drop_rows", source.name) == readable == {"c1", "c2", "c3", "c4"}
    with psycopg.connect(warehouse) as conn:
        priority = conn.execute(
            "select payload->'row'->>'priority' from raw.file_drop_rows where source_id = 'c2'"
            " order by updated_at desc limit 1"
        ).fetchone()[0]
    assert priority == "urgent"  # the newer file's version
    return folder


SAFE = "I feel safe at my school."
RESPECT = "Staff treat students with respect."
OPEN = "What could we do better?"  # an open question nobody maps to an item
ITEMS = {SAFE: "feel_safe", RESPECT: "staff_respect"}
FORM_ROWS = [
    "9/22/2025 10:15:32,Strongly agree,Agree,More buses",
    "9/22/2025 11:00:00,Disagree,Don\u2019t know,",
    "9/23/2025 9:30:10,Somewhat agree,Strongly disagree,",  # a label the map does not know
]


def test_climate_wide_export_loses_nothing(warehouse, tmp_path):
    # Google Forms: a Timestamp column, the questions as headers, label answers; the second
    # export overlaps the first (its first row again)
    header = f'Timestamp,"{SAFE}","{RESPECT}","{OPEN}"\n'
    files = {"climate_0922.csv": FORM_ROWS[:1], "climate_0923.csv": FORM_ROWS}
    for n, (name, rows) in enumerate(files.items()):
        _drop(tmp_path / name, (header + "\n".join(rows) + "\n").encode(), 1758600000 + n)
    source = Source(
        name="lincoln-forms",
        type="file_drop",
        start_date=dt.date(2025, 8, 1),
        options={"path": str(tmp_path), "kind": "climate_wide", "items": ITEMS},
    )
    twice(warehouse, lambda: _load_files(warehouse, source), source.name)

    # A Google Forms export has no id: a respondent is its row (timestamp and cells, hashed as
    # connectors/climate_wide.py documents), the same in both files; each (respondent, item)
    # is one record, `<respondent>:<item>`.
    def respondent(line: str) -> str:
        cells = line.split(",")
        return "h" + hashlib.sha256(json.dumps(cells).encode()).hexdigest()[:20]

    served = {f"{respondent(r)}:{item}" for r in FORM_ROWS for item in ITEMS.values()}
    landed = raw_ids(warehouse, "file_drop_rows", source.name)
    q = quarantined(warehouse, source.name)
    # the unknown label with its respondent and column (the question); the unmapped column
    # once per file, at its header (a column, not a record: nothing of it is an answer)
    records = {f"{r[0]}:{ITEMS[r[2]]}": r[1] for r in q if r[0] is not None}
    columns = sorted((r[1], r[2], r[3]) for r in q if r[0] is None)
    assert records == {f"{respondent(FORM_ROWS[2])}:feel_safe": "unknown_answer_label"}
    assert len(q) == len(records) + len(columns)  # each quarantined record once
    assert columns == [("unmapped_column", OPEN, f"{name}:1") for name in files]
    assert not landed & set(records)
    assert landed | set(records) == served


# ---- through staging ------------------------------------------------------------------------


def test_staging_attaches_the_email_rating_and_rejects_with_reasons(warehouse, tmp_path):
    """The mail, the ratings and the calls of one night in one warehouse, built with dbt: the
    email ratings attach to their thread (no reject), the rating naming no thread and the call
    answered before it was created are rejected with their reasons, visible in the int models."""
    imap_night(warehouse, tmp_path)
    poc_night(warehouse)
    calls = csv_night(warehouse, tmp_path)
    sync_config(warehouse, _cfg(calls), today=dt.date(2025, 10, 31))
    _dbt_build(warehouse, tmp_path, "+int_ratings_rejected +int_interactions_rejected")
    thread = expected_thread_id(_mail_world().interactions[0])
    with psycopg.connect(warehouse) as conn:
        ratings = conn.execute(
            "select r.rating_id, r.rating_scale, r.rating_1_5, r.reject_reason,"
            " i.source_instance, i.source_id"
            " from int.int_ratings_normalised as r"
            " left join int.int_interactions_unioned as i using (interaction_key)"
            " order by r.rating_id"
        ).fetchall()
        rejected_ratings = conn.execute(
            "select rating_id, reject_reason from int.int_ratings_rejected order by 1"
        ).fetchall()
        rejected = conn.execute(
            "select source_instance, source_id, reject_reason from int.int_interactions_rejected"
            " order by 1, 2"
        ).fetchall()
    # R_3 is in quarantine (out of scale), so staging never sees it. On 1-5 scale (docs/metrics.md
    # "Ratings"): 4 on 1-5 is 4; 9 on 0-10 is 1 + 4 * 9 / 10 = 4.6; 5 on 0-10 is 3.
    assert ratings == [
        ("R_1", "1-5", Decimal("4"), None, "lincoln-help", thread),
        ("R_2", "0-10", Decimal("4.6"), None, "lincoln-help", thread),
        ("R_4", "0-10", Decimal("3"), "unknown interaction", None, None),
    ]
    assert rejected_ratings == [("R_4", "unknown interaction")]
    assert rejected == [("lincoln-calls", "c4", "first response before created_at")]


def test_staging_reads_every_helpdesk_trigger(warehouse, tmp_path):
    """The Freshdesk and Zendesk nights through dbt: the walk-in source and the listed custom
    status are read, the `api` ticket is `other`, the compact comments answer their ticket, and
    the deleted twins (in raw, served by the export) are no interactions."""
    freshdesk_night(warehouse)
    world = zendesk_night(warehouse)
    cfg = zd_config()
    cfg["districts"] += fdt.CONFIG["districts"]
    sync_config(warehouse, DeploymentConfig.model_validate(cfg), today=dt.date(2025, 12, 1))
    _dbt_build(warehouse, tmp_path, "+int_interactions_unioned")
    with psycopg.connect(warehouse) as conn:
        got = {
            (r[0], r[1]): r[2:]
            for r in conn.execute(
                "select source_instance, source_id, channel, status, first_response_at"
                " from int.int_interactions_unioned"
            ).fetchall()
        }
    zendesk = {k[1]: v for k, v in got.items() if k[0] == ZD_SOURCE}
    # every live ticket once, no deleted twin
    assert set(zendesk) == {str(t.interaction_id) for t in world.interactions}
    assert zendesk["2"][0] == "other"  # via api, mapped by nothing
    for t in world.interactions:
        replies = [e.at for e in t.events if e.kind == "agent_reply"]
        assert zendesk[str(t.interaction_id)][2] == (min(replies) if replies else None), t
    assert zendesk["3"][2] is not None  # its compact comment is a reply
    freshdesk = {k[1]: v for k, v in got.items() if k[0] == fdt.SOURCE}
    assert freshdesk["7"][0] == "walk_in"  # source 101, "Walk-in" in ticket_fields
    assert "25" not in freshdesk and "26" not in freshdesk  # quarantined, not guessed
    assert freshdesk["24"][1] == "open"  # custom status 6, listed, mapped by nothing
