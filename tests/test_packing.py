"""Packed raw payloads (schoolcx.load.packing): projection in payload, whole record in payload_z.

That staging reads the same from packed raw as from whole payloads is checked by the reference
metric tests and tests/test_dbt_core.py: their fixture lands its rows packed
(fixture_dbt_core.insert_rows) and their figures were worked out by hand from whole records.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import zlib
from pathlib import Path

import psycopg
import pytest

from schoolcx import cli
from schoolcx.connectors.base import LandingRecord, Page
from schoolcx.load import packing, payload_shapes
from schoolcx.load.raw_writer import RawWriter

RECORDED = Path(__file__).parent / "fixtures" / "recorded"
T0 = dt.datetime(2025, 9, 3, 14, 0, tzinfo=dt.UTC)


def _recorded_records():
    """Every vendor record in the recorded pages (objects in their top-level arrays)."""
    for path in sorted(RECORDED.glob("*/*.json")):
        body = json.loads(path.read_text())
        arrays = [body] if isinstance(body, list) else [v for v in body.values()]
        for array in arrays:
            if isinstance(array, list):
                for n, record in enumerate(array):
                    yield f"{path.parent.name}/{path.stem}[{n}]", record


RECORDS = list(_recorded_records())
TABLE_OF = {
    "incremental_tickets_cursor": "zendesk_tickets",
    "incremental_tickets_cursor_metric_sets": "zendesk_tickets",
    "incremental_ticket_events": "zendesk_ticket_events",
    "groups_page": "zendesk_groups",
    "tickets": "freshdesk_tickets",
    "conversations_72": "freshdesk_conversations",
}


@pytest.mark.parametrize("name, record", RECORDS, ids=[n for n, _ in RECORDS])
def test_unpack_of_pack_is_the_record_exactly(name, record):
    table = TABLE_OF[name.split("/")[1].split("[")[0]]
    sample = [packing.encode(r) for _, r in RECORDS]
    packer = packing.Packer(1, packing.make_zdict(sample))
    projection, z = packing.pack(record, packing.shape_of(table), packer)
    assert packing.unpack(z, packer.zdict) == record
    assert packing.decompress(z, packer.zdict) == packing.encode(record)  # the writer's text
    assert len(z) < len(packing.encode(record))
    # the projection keeps exactly the shape's keys the record has, with their values
    kept = packing.decode(projection)
    assert set(kept) == set(record) & set(packing.shape_of(table))
    for key, value in kept.items():
        if packing.shape_of(table)[key] is payload_shapes.WHOLE:
            assert value == record[key]


def test_recorded_pages_cover_both_helpdesks():
    assert {n.split("/")[0] for n, _ in RECORDS} == {"zendesk", "freshdesk"}
    assert len(RECORDS) >= 10


def test_projection_rules():
    shape = {
        "via": {"channel": True},
        "child_events": {"status": True, "via": {"channel": True}},
        "tags": True,
    }
    record = {
        "via": "Rule",  # a scalar where the shape expects an object: kept
        "child_events": [
            {"status": "open", "body": "secret", "via": {"channel": "rule", "source": {}}},
            {"type": "Comment", "status": None},  # absent stays absent, null stays null
            "odd",
        ],
        "tags": ["a", {"b": 1}],
        "description": "not read",
    }
    assert packing.project(record, shape) == {
        "via": "Rule",
        "child_events": [{"status": "open", "via": {"channel": "rule"}}, {"status": None}, "odd"],
        "tags": ["a", {"b": 1}],
    }


def test_the_text_loses_only_nul_as_before():
    record = {"subject": "a\u0000b é", "n": 1.5, "at": dt.datetime(2025, 9, 3, tzinfo=dt.UTC)}
    assert packing.decode(packing.encode(record)) == {
        "subject": "ab é",
        "n": 1.5,
        "at": "2025-09-03T00:00:00Z",
    }


def _page(table: str, first: int, n: int, stream: str = "tickets") -> Page:
    records = [
        LandingRecord(
            table,
            str(i),
            T0 + dt.timedelta(minutes=i),
            {
                "id": i,
                "subject": f"bus {i}",
                "status": "open",
                "description": f"the long text {i}" * 5,
                "via": {"channel": "email", "source": {"from": {"address": f"p{i}@x.org"}}},
                "name": f"group {i}",
            },
            person_email=f"p{i}@x.org",
        )
        for i in range(first, first + n)
    ]
    return Page(stream, records, [], {"cursor": f"c{first + n}"})


def _write(url, pages, instance="d1-zendesk"):
    with RawWriter(
        url, source_instance=instance, source_type="zendesk", district_id="1700001", run_id="r1"
    ) as w:
        return w.write_pages(pages)


def _whole(url, table):
    with psycopg.connect(url) as conn:
        return packing.select_whole(
            conn,
            f"select source_id, payload, payload_z, payload_dict from raw.{table}"
            " order by source_id::int",
        )


def test_writer_packs_and_the_whole_record_reads_back(warehouse):
    pages = [_page("zendesk_tickets", 0, 5), _page("zendesk_tickets", 5, 5)]
    _write(warehouse, pages)
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute(
            "select payload, payload_z is not null, payload_dict from raw.zendesk_tickets"
        ).fetchall()
    assert all(z and d for _, z, d in rows)
    assert all("description" not in p and p["via"] == {"channel": "email"} for p, _, _ in rows)
    expected = [r.payload for page in pages for r in page.records]
    assert [p for _, p in _whole(warehouse, "zendesk_tickets")] == expected


def test_dictionary_is_made_once_and_shared_by_writers_and_processes(warehouse):
    # two writers (two sessions) landing a table's first pages at once: one dictionary
    threads = [
        threading.Thread(
            target=_write, args=(warehouse, [_page("zendesk_tickets", 100 * k, 20)], f"d{k}-zd")
        )
        for k in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with psycopg.connect(warehouse) as conn:
        dicts = conn.execute(
            "select dict_id, zdict, created_at from raw.payload_dicts"
            " where raw_table = 'zendesk_tickets'"
        ).fetchall()
        assert len(dicts) == 1
        used = conn.execute("select distinct payload_dict from raw.zendesk_tickets").fetchall()
        assert used == [(dicts[0][0],)]
    # a later run (a new process: the CLI's, as a nightly extract would be) reuses it unchanged
    _write(warehouse, [_page("zendesk_tickets", 500, 3)], "d3-zd")
    with psycopg.connect(warehouse) as conn:
        assert (
            conn.execute(
                "select dict_id, zdict, created_at from raw.payload_dicts"
                " where raw_table = 'zendesk_tickets'"
            ).fetchall()
            == dicts
        )
        assert conn.execute(
            "select count(distinct payload_dict), count(*) from raw.zendesk_tickets"
        ).fetchone() == (1, 43)
    assert len(_whole(warehouse, "zendesk_tickets")) == 43


def test_a_table_without_a_shape_lands_whole_payloads(warehouse, monkeypatch):
    shapes = {k: v for k, v in payload_shapes.SHAPES.items() if k != "zendesk_groups"}
    monkeypatch.setattr(payload_shapes, "SHAPES", shapes)
    page = _page("zendesk_groups", 0, 3, stream="groups")
    _write(warehouse, [page])
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute(
            "select payload, payload_z, payload_dict from raw.zendesk_groups order by source_id"
        ).fetchall()
        assert conn.execute("select count(*) from raw.payload_dicts").fetchone()[0] == 0
    assert rows == [(r.payload, None, None) for r in page.records]


def test_a_shape_change_is_repacked_from_the_whole_records(warehouse, monkeypatch, capsys):
    pages = [_page("zendesk_tickets", 0, 7), _page("zendesk_tickets", 7, 6)]
    _write(warehouse, pages)
    records = {r.source_id: r.payload for page in pages for r in page.records}
    with psycopg.connect(warehouse) as conn:
        assert packing.stale_tables(conn) == []
        conn.execute(  # a row landed before packing: its payload is whole already
            "insert into raw.zendesk_tickets (source_system, source_instance, district_id,"
            " source_id, updated_at, payload, _batch_id)"
            " values ('zendesk', 'old', '1700001', '99', now(), '{\"id\": 99, \"x\": 1}', 'b0')"
        )
    grown = dict(payload_shapes.SHAPES["zendesk_tickets"], description=payload_shapes.WHOLE)
    monkeypatch.setattr(
        payload_shapes, "SHAPES", {**payload_shapes.SHAPES, "zendesk_tickets": grown}
    )
    with psycopg.connect(warehouse) as conn:
        assert packing.stale_tables(conn) == ["zendesk_tickets"]

    monkeypatch.setenv("WAREHOUSE_URL", warehouse)
    monkeypatch.setattr(packing, "repack", _small_batches(packing.repack))
    assert cli.main(["raw", "repack"]) == 0
    out = capsys.readouterr().out
    assert "raw.zendesk_tickets: 10 of 13 payloads rewritten" in out
    assert "13 payloads rewritten from payload_z (0 superseded versions emptied)," in out
    assert "1 whole payloads left as they are" in out
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute(
            "select source_id, payload from raw.zendesk_tickets where payload_z is not null"
        ).fetchall()
        assert packing.stale_tables(conn) == []
        assert conn.execute(
            "select shape_fingerprint from raw.payload_dicts where raw_table = 'zendesk_tickets'"
        ).fetchone()[0] == packing.fingerprint(grown)
    assert len(rows) == 13
    for source_id, payload in rows:
        assert payload["description"] == records[source_id]["description"]
        assert payload == packing.project(records[source_id], grown)
    assert cli.main(["raw", "repack"]) == 0
    assert "nothing to repack" in capsys.readouterr().out


def _small_batches(repack):
    def in_batches_of_ten(url, table, **kw):
        return repack(url, table, **{**kw, "batch_rows": 10})

    return in_batches_of_ten


def _solved(payload: dict) -> dict:
    return {**payload, "status": "solved"}


def test_raw_show_prints_every_version_whole(warehouse, monkeypatch, capsys):
    first = _page("zendesk_tickets", 0, 2)
    later = Page(
        "tickets",
        [
            dataclasses.replace(
                r, updated_at=r.updated_at + dt.timedelta(days=1), payload=_solved(r.payload)
            )
            for r in first.records
        ],
    )
    _write(warehouse, [first])
    _write(warehouse, [later])
    monkeypatch.setenv("WAREHOUSE_URL", warehouse)
    assert cli.main(["raw", "show", "zendesk_tickets", "1"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [v["payload"] for v in shown] == [first.records[1].payload, later.records[1].payload]
    assert all(v["packed"] and v["source_instance"] == "d1-zendesk" for v in shown)
    assert cli.main(["raw", "show", "zendesk_tickets", "1", "--source-instance", "nope"]) == 1
    assert cli.main(["raw", "show", "no_such_table", "1"]) == 2


def test_the_nightly_prepare_repacks_a_changed_shape_before_dbt(warehouse, monkeypatch):
    from schoolcx import pipeline
    from tests import fixture_dbt_core as fx

    page = _page("zendesk_tickets", 0, 4)
    _write(warehouse, [page])
    grown = dict(payload_shapes.SHAPES["zendesk_tickets"], description=payload_shapes.WHOLE)
    monkeypatch.setattr(
        payload_shapes, "SHAPES", {**payload_shapes.SHAPES, "zendesk_tickets": grown}
    )
    pipeline.prepare(warehouse, fx.config())
    with psycopg.connect(warehouse) as conn:
        assert packing.stale_tables(conn) == []
        got = dict(conn.execute("select source_id, payload from raw.zendesk_tickets").fetchall())
    assert got == {r.source_id: packing.project(r.payload, grown) for r in page.records}


def test_a_dictionary_holds_no_value_of_only_one_or_two_records():
    """The dictionary outlives every record: a requester's email or a ticket's subject, held by
    one record (or by two versions of one ticket), never enters it; values several records
    share (status words, channels, locales) do, and keys always."""
    people = [
        {
            "id": i,
            "status": "open",
            "via": {"channel": "email"},
            "locale": "en-US",
            "email": f"parent{i}@example.org",
            "subject": f"Bus stop moved {i}",
        }
        for i in range(6)
    ]
    twice = {**people[0], "status": "solved"}  # a second version of ticket 0
    zdict = packing.make_zdict(packing.encode(r) for r in [*people, twice])
    for private in (b"parent0@example.org", b"parent3@example.org", b"Bus stop moved 0"):
        assert private not in zdict
    for shared in (b'"open"', b'"email"', b'"en-US"', b'"subject"', b'"locale"'):
        assert shared in zdict
    # still a dictionary that pays: a new record compresses well below plain zlib
    record = packing.encode({**people[1], "id": 99, "email": "new@example.org"})
    packer = packing.Packer(1, zdict)
    assert len(packer.compress(record)) < len(zlib.compress(record, packing.LEVEL))
    assert packing.decompress(packer.compress(record), zdict) == record
