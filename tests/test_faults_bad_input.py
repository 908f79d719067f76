"""Bad input at the edges: each gives a clear error naming the source (and the record or file),
or a quarantine row with its reason, and nothing already loaded is lost.

Covered elsewhere and not repeated here: a rating out of scale from Qualtrics and SurveyMonkey
(test_qualtrics/test_surveymonkey `test_quarantine_kinds`), a CSV with a missing column
(test_file_drop), a ticket answered before it was created (test_dbt_core: rejected with
"first response before created_at"; Freshdesk `stat_before_created` in test_freshdesk).
"""

from __future__ import annotations

import datetime as dt
import os

import psycopg
import pytest
import yaml

from schoolcx.config import DeploymentConfig, District, Source
from schoolcx.connections import Connection
from schoolcx.connectors.base import ConnectorContext
from schoolcx.connectors.file_drop import FileDropConnector
from schoolcx.connectors.http import RetryBudgetExhausted, RetryPolicy
from schoolcx.connectors.imap import ImapConnector
from schoolcx.connectors.qualtrics import QualtricsConnector
from schoolcx.connectors.zendesk import ZendeskConnector
from schoolcx.load.raw_writer import RawWriter
from schoolcx.sandbox.demo.world import SurveyAnswerSet, World
from schoolcx.sandbox.emulators import qualtrics
from schoolcx.sandbox.emulators import zendesk as zd_emulator
from schoolcx.sandbox.emulators.http_base import Faults
from schoolcx.sandbox.emulators.imap_server import deliver, start_dovecot
from tests.faults_support import (
    DISTRICT,
    MAILBOX,
    ZD_SOURCE,
    ZD_TABLES,
    fresh_warehouse,
    imap_config,
    raw_rows,
    zd_config,
    zd_world,
)

FAST = RetryPolicy(base_delay=0.01, max_delay=0.05)
UNTIL = dt.datetime(2025, 9, 30, 23, tzinfo=dt.UTC)


def _quarantine(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select source_instance, reason, record_id, field, source_position"
            " from quarantine.records order by quarantine_id"
        ).fetchall()


# ---- a vendor answering HTML instead of JSON ------------------------------------------------


def _zd_extract(url: str, running) -> None:
    cfg = DeploymentConfig.model_validate(zd_config(page_size=2))
    district, source = cfg.source(ZD_SOURCE)
    ctx = ConnectorContext(district, source, Connection("zd_d1", **running.connection(ZD_SOURCE)))
    connector = ZendeskConnector(ctx, policy=FAST, sleep=lambda s: None)
    with RawWriter(
        url, source_instance=ZD_SOURCE, source_type="zendesk", district_id=DISTRICT, run_id="b"
    ) as writer:
        writer.write_pages(connector.pages(writer.state(), UNTIL))


def test_html_instead_of_json_fails_naming_the_source_and_keeps_what_landed(warehouse, pg_server):
    world = zd_world()
    # From the 3rd ticket-events request on, a maintenance page with status 200, every time.
    html = Faults(plan=dict.fromkeys(range(3, 200), "html_200"), path_contains="ticket_events")
    with (
        zd_emulator.serve(world, [ZD_SOURCE], html) as running,
        pytest.raises(RetryBudgetExhausted) as err,
    ):
        _zd_extract(warehouse, running)
    message = str(err.value)
    assert message.startswith(f"{ZD_SOURCE}: GET /api/v2/incremental/ticket_events.json")
    assert "not JSON" in message
    partial = raw_rows(warehouse, ZD_TABLES)
    with psycopg.connect(warehouse) as conn:
        run = conn.execute("select status, error from ops.extract_runs").fetchone()
    assert run[0] == "failed" and ZD_SOURCE in run[1] and "not JSON" in run[1]
    # Nothing was loaded from the HTML, and nothing loaded before it is lost: the rerun against
    # the recovered vendor lands what a clean extract lands.
    live = [r for r in partial["zendesk_tickets"] if int(r[1]) < zd_emulator.DELETED_ID_BASE]
    assert len(live) == len(world.interactions)  # plus the deleted twins the export carries
    assert len(partial["zendesk_ticket_events"]) > 0
    assert _quarantine(warehouse) == []
    with zd_emulator.serve(world, [ZD_SOURCE]) as running:
        _zd_extract(warehouse, running)
        clean = fresh_warehouse(pg_server)
        _zd_extract(clean, running)
    assert raw_rows(warehouse, ZD_TABLES) == raw_rows(clean, ZD_TABLES)
    for table in ZD_TABLES:  # what had landed is still there, unchanged
        assert set(partial[table]) <= set(raw_rows(warehouse, (table,))[table])


# ---- an empty mailbox -----------------------------------------------------------------------

IMAP_CONFIG = yaml.safe_dump(imap_config(ssl=False))


def _imap_extract(url: str, running):
    cfg = DeploymentConfig.model_validate(yaml.safe_load(IMAP_CONFIG))
    district, source = cfg.source("d1-mail")
    conn = Connection("d1_mail", **running.connection("d1-mail", MAILBOX))
    ctx = ConnectorContext(district, source, conn, warehouse_url=url)
    with RawWriter(
        url, source_instance="d1-mail", source_type="imap", district_id=DISTRICT, run_id="m"
    ) as writer:
        return writer.write_pages(ImapConnector(ctx).pages(writer.state(), UNTIL))


def test_empty_mailbox(warehouse, tmp_path):
    with start_dovecot(tmp_path / "imap", {MAILBOX: "pw"}, use_ssl=False) as running:
        # A brand-new shared mailbox: nothing in INBOX or Sent yet.
        empty = _imap_extract(warehouse, running)
        assert (empty.received, empty.inserted, empty.quarantined_total) == (0, 0, 0)

        # Mail arrives later: the empty runs left no state that skips it.
        message = (
            b"From: Parent <p1@example.org>\r\nTo: help@lincoln.k12.il.us\r\n"
            b"Subject: Bus\r\nDate: Mon, 1 Sep 2025 10:00:00 +0000\r\n"
            b"Message-ID: <first@example.org>\r\n\r\n(body)\r\n"
        )
        deliver(running, MAILBOX, "INBOX", message)
        later = _imap_extract(warehouse, running)
    assert later.inserted == 1


# ---- survey exports with question ids the config does not know ------------------------------

SURVEY_CONFIG = """
name: faults-survey
districts:
  - district_id: "1700001"
    name: Lincoln
    state: IL
    timezone: America/Chicago
    enrollment: {2026: 5000}
    sources:
      - name: d1-climate
        type: qualtrics
        conn_id: d1_climate
        start_date: 2025-08-01
        options: {survey_id: SV_climate1, item_map: {QID1: safe_school, QID2: respect}}
"""
T0 = dt.datetime(2025, 9, 1, 15, 0, tzinfo=dt.UTC)


def _climate(n: int) -> SurveyAnswerSet:
    return SurveyAnswerSet(
        f"R_c{n:03d}",
        DISTRICT,
        "d1-climate",
        T0 + dt.timedelta(days=n),
        "parent",
        {"safe_school": 4, "respect": 5},
    )


def _qualtrics_extract(url: str, running):
    cfg = DeploymentConfig.model_validate(yaml.safe_load(SURVEY_CONFIG))
    district, src = cfg.source("d1-climate")
    kwargs = running.connection("d1-climate")
    kwargs["extra"] = {**kwargs["extra"], "retry_base_delay": 0.01}
    ctx = ConnectorContext(district, src, Connection(conn_id=src.conn_id, **kwargs))
    with RawWriter(
        url, source_instance="d1-climate", source_type="qualtrics", district_id=DISTRICT, run_id="s"
    ) as writer:
        return writer.write_pages(QualtricsConnector(ctx).pages(writer.state(), UNTIL))


def test_survey_export_with_unknown_question_ids_is_quarantined_with_the_ids(warehouse):
    world = World(dt.date(2025, 12, 31), [], [], [_climate(1), _climate(2)], SURVEY_CONFIG)
    with qualtrics.serve(world, ["d1-climate"]) as running:
        render = running.emulator.responses

        def renamed(survey_id):
            # The survey was edited: response 2's questions now have new ids.
            rows = render(survey_id)
            values = rows[1]["values"]
            values["QID7"], values["QID8"] = values.pop("QID1"), values.pop("QID2")
            return rows

        running.emulator.responses = renamed
        summary = _qualtrics_extract(warehouse, running)
    assert summary.inserted >= 1  # response 1 lands
    rows = [r for r in _quarantine(warehouse) if r[2] == "R_c002"]
    assert len(rows) == 1, _quarantine(warehouse)
    source, reason, _rid, field, _pos = rows[0]
    assert source == "d1-climate" and "question" in reason
    assert "QID7" in (field or "") and "QID8" in (field or "")


# ---- CSV in the wrong encoding --------------------------------------------------------------

FD_DISTRICT = District(
    district_id=DISTRICT,
    name="Lincoln",
    state="IL",
    timezone="America/Chicago",
    enrollment={2026: 5000},
)
COLUMNS = {"id": "Call ID", "created_at": "Started", "channel": "Channel"}
HEADER = "Call ID,Started,Channel,Caller\n"


def _drop_source(folder) -> Source:
    return Source(
        name="d1-calls",
        type="file_drop",
        start_date=dt.date(2025, 8, 1),
        options={"path": str(folder), "kind": "interactions", "columns": COLUMNS},
    )


def _drop_load(url: str, folder):
    ctx = ConnectorContext(FD_DISTRICT, _drop_source(folder), None)
    with RawWriter(
        url, source_instance="d1-calls", source_type="file_drop", district_id=DISTRICT, run_id="f"
    ) as writer:
        return writer.write_pages(FileDropConnector(ctx).pages(writer.state(), UNTIL))


def _rows_of(url: str, file: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select count(*) from raw.file_drop_rows where payload->>'file' = %s", (file,)
        ).fetchone()[0]


def _calls(n: int, first: int = 1, name: str = "Ana") -> str:
    return HEADER + "".join(
        f"c{i},2025-09-02T08:{i % 60:02d}:00,phone,{name} {i}\n" for i in range(first, first + n)
    )


def _write(path, data: bytes, day: int) -> None:
    path.write_bytes(data)
    stamp = dt.datetime(2025, 9, day, tzinfo=dt.UTC).timestamp()
    os.utime(path, (stamp, stamp))


def test_small_csv_in_the_wrong_encoding_is_quarantined_whole(warehouse, tmp_path):
    _write(tmp_path / "a_good.csv", _calls(3).encode(), 2)
    assert _drop_load(warehouse, tmp_path).inserted == 3
    # Excel's "CSV" on Windows: cp1252, "José" is one byte 0xE9.
    _write(tmp_path / "b_latin.csv", _calls(3, 10, "José").encode("cp1252"), 3)
    summary = _drop_load(warehouse, tmp_path)
    assert summary.inserted == 0
    assert [(r[0], r[1], r[4]) for r in _quarantine(warehouse)] == [
        ("d1-calls", "unreadable_file", "b_latin.csv")
    ]
    assert _rows_of(warehouse, "a_good.csv") == 3  # what was loaded stays
    # The next export has the same bad byte at the same place: another file, quarantined too.
    _write(tmp_path / "c_latin.csv", _calls(3, 10, "José").encode("cp1252"), 4)
    assert _drop_load(warehouse, tmp_path).quarantined == {"unreadable_file": 1}
    assert [r[4] for r in _quarantine(warehouse)] == ["b_latin.csv", "c_latin.csv"]


def test_large_csv_in_the_wrong_encoding_is_not_half_loaded(warehouse, tmp_path):
    # 400 rows (about 12 KB): the first non-UTF-8 byte is in row 300, past the reader's
    # first decoded block.
    text = _calls(299) + _calls(101, 300, "José")[len(HEADER) :]
    _write(tmp_path / "calls.csv", text.encode("cp1252"), 2)
    summary = _drop_load(warehouse, tmp_path)
    landed, quarantined = _rows_of(warehouse, "calls.csv"), _quarantine(warehouse)
    # Either the whole file is quarantined (nothing of it counted), or every row is accounted
    # for (landed, or quarantined row by row): never a silent half.
    whole_file = landed == 0 and [r[1] for r in quarantined] == ["unreadable_file"]
    every_row = landed + len([r for r in quarantined if r[2]]) == 400
    assert whole_file or every_row, (landed, summary.quarantined)
