"""Only the latest version of a packed raw record keeps its projection (issue 19).

Real PostgreSQL: pages land through RawWriter (packing.land_sql) in order, out of order, with
several versions of a record in one page, and twice; repack keeps the rule; readers of raw
payloads outside staging read latest versions only; staging reads raw only through
latest_versions. Staging's output with and without the rule: tests/test_dbt_core.py lands its
fixture through the same statement (fixture_dbt_core.insert_rows) and checks every mart by hand,
and test_staging_reads_the_same_rows_with_and_without_the_rule below compares stg directly.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from pathlib import Path

import psycopg

from schoolcx.connectors.base import LandingRecord, Page
from schoolcx.connectors.imap import WarehouseThreadLookup
from schoolcx.load import packing, payload_shapes
from schoolcx.load.raw_writer import RawWriter

T0 = dt.datetime(2025, 9, 1, 8, tzinfo=dt.UTC)
REPO = Path(__file__).resolve().parents[1]


def _ticket(i: int, version: int, status: str = "open") -> LandingRecord:
    return LandingRecord(
        "zendesk_tickets",
        str(i),
        T0 + dt.timedelta(days=version, minutes=i),
        {
            "id": i,
            "subject": f"bus {i}",
            "status": status,
            "version": version,
            "description": f"the long text {i} v{version}" * 5,
            "via": {"channel": "email"},
        },
    )


def _page(records: list[LandingRecord], cursor: str = "c") -> Page:
    return Page("tickets", list(records), [], {"cursor": cursor})


def _write(url: str, pages: list[Page], instance: str = "d1-zendesk"):
    with RawWriter(
        url, source_instance=instance, source_type="zendesk", district_id="1700001", run_id="r1"
    ) as w:
        return w.write_pages(pages)


def _raw(url: str, table: str = "zendesk_tickets") -> list[tuple]:
    """Every row: (instance, source_id, updated_at, payload, payload_z is not null, _loaded_at)."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select source_instance, source_id, updated_at, payload, payload_z is not null,"
            f" _loaded_at from raw.{table} order by source_instance, source_id, updated_at"
        ).fetchall()


def _check_rule(url: str, latest: dict[str, LandingRecord], table: str = "zendesk_tickets"):
    """Exactly one row per packed record keeps a projection: its latest version's, projected
    from that version's record; every other version's payload is '{}' and its payload_z holds
    its record whole."""
    shape = payload_shapes.SHAPES[table]
    rows = _raw(url, table)
    kept: dict[str, list] = {}
    for _si, sid, upd, payload, packed, _ in rows:
        assert packed
        if payload != {}:
            kept.setdefault(sid, []).append((upd, payload))
    assert set(kept) == set(latest)
    for sid, versions in kept.items():
        assert versions == [
            (latest[sid].updated_at, packing.project(latest[sid].payload, shape))
        ], sid
    with psycopg.connect(url) as conn:
        whole = packing.select_whole(
            conn, f"select source_id, updated_at, payload, payload_z, payload_dict from raw.{table}"
        )
    return {(sid, upd): p for sid, upd, p in whole}


def test_versions_landed_in_order(warehouse):
    v1 = [_ticket(i, 1) for i in range(6)]
    v2 = [_ticket(i, 2, "pending") for i in range(4)]
    v3 = [_ticket(i, 3, "solved") for i in range(2)]
    _write(warehouse, [_page(v1), _page(v2)])
    _write(warehouse, [_page(v3)])  # a later run
    latest = {r.source_id: r for r in [*v1, *v2, *v3]}
    whole = _check_rule(warehouse, latest)
    # every version still whole in payload_z (what `schoolcx raw show` prints)
    assert whole == {(r.source_id, r.updated_at): r.payload for r in [*v1, *v2, *v3]}


def test_a_late_older_version_lands_empty(warehouse):
    v3 = [_ticket(i, 3, "solved") for i in range(4)]
    v1 = [_ticket(i, 1) for i in range(4)]
    v2 = [_ticket(i, 2, "pending") for i in range(2)]
    _write(warehouse, [_page(v3)])
    before = {(r[1], r[2]): r[3] for r in _raw(warehouse)}
    _write(warehouse, [_page(v1), _page(v2)])
    after = {(r[1], r[2]): r[3] for r in _raw(warehouse)}
    assert all(after[k] == p for k, p in before.items())  # the latest ones untouched
    assert all(after[(r.source_id, r.updated_at)] == {} for r in [*v1, *v2])
    _check_rule(warehouse, {r.source_id: r for r in v3})


def test_several_versions_of_a_record_in_one_page(warehouse):
    # versions out of order within the page, one version served twice, a record alone
    records = [
        _ticket(0, 2),
        _ticket(0, 5, "solved"),
        _ticket(0, 1),
        _ticket(0, 5, "solved"),
        _ticket(1, 3),
        _ticket(1, 4, "pending"),
        _ticket(2, 1),
    ]
    summary = _write(warehouse, [_page(records)])
    assert summary.inserted == 6 and summary.skipped == 1
    _check_rule(warehouse, {"0": records[1], "1": records[5], "2": records[6]})
    # a later page with an older and a newer version of record 1
    more = [_ticket(1, 2), _ticket(1, 6, "solved"), _ticket(0, 3)]
    _write(warehouse, [_page(more)])
    _check_rule(warehouse, {"0": records[1], "1": more[1], "2": records[6]})


def test_a_rerun_of_the_same_pages_changes_nothing(warehouse):
    pages = [
        _page([_ticket(i, 1) for i in range(5)]),
        _page([_ticket(i, 2, "pending") for i in range(3)] + [_ticket(4, 0)]),
    ]
    first = _write(warehouse, pages)
    rows = _raw(warehouse)
    assert first.inserted == 9 and len(rows) == 9
    again = _write(warehouse, pages)  # a rerun from an earlier state: nothing doubled
    assert again.inserted == 0 and again.skipped == 9
    assert _raw(warehouse) == rows  # same rows, same payloads, same _loaded_at
    # the second page alone, again (a resumed window)
    _write(warehouse, pages[1:])
    assert _raw(warehouse) == rows
    latest = {r.source_id: r for r in pages[0].records}
    latest.update({r.source_id: r for r in pages[1].records if r.source_id != "4"})
    _check_rule(warehouse, latest)


def test_an_unpacked_row_keeps_its_whole_payload(warehouse, monkeypatch):
    with psycopg.connect(warehouse) as conn:  # landed before packing: the only copy
        conn.execute(
            "insert into raw.zendesk_tickets (source_system, source_instance, district_id,"
            " source_id, updated_at, payload, _batch_id)"
            " values ('zendesk', 'd1-zendesk', '1700001', '0', %s, '{\"id\": 0, \"x\": 1}',"
            " 'b0')",
            (T0,),
        )
    newer = _ticket(0, 3)
    _write(warehouse, [_page([newer, _ticket(0, -1)])])
    rows = {(r[2], r[4]): r[3] for r in _raw(warehouse)}
    assert rows[(T0, False)] == {"id": 0, "x": 1}
    assert rows[(newer.updated_at, True)] == packing.project(
        newer.payload, payload_shapes.SHAPES["zendesk_tickets"]
    )
    assert rows[(_ticket(0, -1).updated_at, True)] == {}  # older than the unpacked one
    # a table without a shape: every version whole
    shapes = {k: v for k, v in payload_shapes.SHAPES.items() if k != "zendesk_groups"}
    monkeypatch.setattr(payload_shapes, "SHAPES", shapes)
    groups = [dataclasses.replace(_ticket(7, v), table="zendesk_groups") for v in (1, 2)]
    _write(
        warehouse, [Page("groups", [groups[1]], [], None), Page("groups", [groups[0]], [], None)]
    )
    assert [r[3] for r in _raw(warehouse, "zendesk_groups")] == [g.payload for g in groups]


def test_repack_reprojects_latest_versions_only(warehouse, monkeypatch):
    v1 = [_ticket(i, 1) for i in range(25)]
    v2 = [_ticket(i, 2, "solved") for i in range(0, 25, 2)]
    _write(warehouse, [_page(v1), _page(v2)])
    with psycopg.connect(warehouse) as conn:  # as landed before the rule: every version kept
        conn.execute(
            "update raw.zendesk_tickets set payload = '{\"stale\": true}'::jsonb"
            " where source_id in ('1', '2')"
        )
    grown = dict(payload_shapes.SHAPES["zendesk_tickets"], description=payload_shapes.WHOLE)
    monkeypatch.setattr(
        payload_shapes, "SHAPES", {**payload_shapes.SHAPES, "zendesk_tickets": grown}
    )
    summary = packing.repack(warehouse, "zendesk_tickets", batch_rows=7)  # splits records
    assert summary.rewritten == 38 and summary.superseded == 13
    latest = {r.source_id: r for r in [*v1, *v2]}
    _check_rule(warehouse, latest)
    assert all(
        p["description"] == latest[sid].payload["description"]
        for _, sid, _, p, _, _ in _raw(warehouse)
        if p
    )


def test_the_imap_lookup_reads_a_messages_latest_version(warehouse):
    def message(version: int) -> LandingRecord:
        return LandingRecord(
            "imap_messages",
            "<m1@x.org>",
            T0 + dt.timedelta(hours=version),
            {
                "message_id": "<m1@x.org>",
                "subject": "Bus stop",
                "_schoolcx": {"thread_id": "thread-1", "counterpart": "p@x.org"},
            },
        )

    with RawWriter(
        warehouse, source_instance="mbox", source_type="imap", district_id="1", run_id="r1"
    ) as w:
        w.write_pages(
            [Page("INBOX", [message(1)], [], None), Page("INBOX", [message(2)], [], None)]
        )
    assert [r[3] != {} for r in _raw(warehouse, "imap_messages")] == [False, True]
    lookup = WarehouseThreadLookup(warehouse, "mbox")
    try:
        when = T0 + dt.timedelta(days=1)
        assert lookup("message", "<m1@x.org>", when) == "thread-1"
        assert lookup("subject", ("bus stop", "p@x.org"), when) == "thread-1"
        assert lookup._subjects == {("bus stop", "p@x.org"): [(message(2).updated_at, "thread-1")]}
    finally:
        lookup.close()


# --- readers of raw payloads ------------------------------------------------------------------

# Python modules whose SQL reads `payload` of raw tables; each read here is of latest versions
# only or of payload_z beside it (packing: whole records). A new one must be checked (and added).
PAYLOAD_READERS = {
    "plugins/schoolcx/connectors/imap.py",  # latest versions (the imap test above)
    "plugins/schoolcx/load/packing.py",  # whole records from payload_z; repack; land_sql
    "plugins/schoolcx/sandbox/bench/dbt/landing.py",  # its scratch tables; the night: land_sql
    "plugins/schoolcx/sandbox/bench/load.py",  # counts raw rows; payload only in what it lands
}


def test_python_readers_of_raw_payloads_are_known():
    readers = set()
    for path in (REPO / "plugins/schoolcx").rglob("*.py"):
        text = path.read_text()
        if re.search(r"from raw\.", text) and re.search(r"\bpayload\b\s*(->|,|\s+from)", text):
            readers.add(str(path.relative_to(REPO)))
    assert readers == PAYLOAD_READERS


# Models that read a raw source's latest versions by an anti-join on raw's primary key (no later
# version of the record) instead of the latest_versions macro.
LATEST_BY_ANTI_JOIN = {"model.schoolcx.stg_zendesk__ticket_child_events"}


def test_dbt_reads_raw_sources_only_through_latest_versions(dbt_manifest):
    manifest = json.loads(Path(dbt_manifest).read_text())
    raw_sources = {
        (s["source_name"], s["name"]) for s in manifest["sources"].values() if s["schema"] == "raw"
    }
    assert ("zendesk", "zendesk_tickets") in raw_sources
    checked = 0
    for node in manifest["nodes"].values():
        code = node.get("raw_code") or ""
        for m in re.finditer(r"source\(\s*'(\w+)'\s*,\s*'(\w+)'\s*\)", code):
            if (m.group(1), m.group(2)) not in raw_sources:
                continue
            before = code[: m.start()].rstrip()
            if node["unique_id"] in LATEST_BY_ANTI_JOIN:
                # the latest version of each record as latest_versions picks it, without
                # DISTINCT ON (a view a predicate must reach raw's indexes through); a packed
                # row passes unlooked-up: the rule left a superseded one no projection
                assert re.search(
                    r"where (\w+)\.payload_z is not null or not exists \("
                    r"\s*select 1\s*from \{\{ source\([^)]*\) \}\} as later"
                    r"\s*where\s*later\.source_instance = \1\.source_instance"
                    r"\s*and later\.source_id = \1\.source_id"
                    r"\s*and later\.updated_at > \1\.updated_at",
                    code,
                ), node["unique_id"]
            else:
                assert before.endswith("latest_versions("), (node["unique_id"], m.group(0))
            checked += 1
        if node["resource_type"] == "test" and node.get("column_name") == "payload":
            assert not any(
                d.startswith("source.") for d in node.get("depends_on", {}).get("nodes", [])
            ), node["unique_id"]  # a test of every version's payload
    assert checked >= 15


def test_staging_reads_the_same_rows_with_and_without_the_rule(warehouse, tmp_path):
    """The dbt core fixture's two nights land with the rule; stg is built, then the superseded
    versions' projections are put back from payload_z (raw as before the rule) and stg is built
    again from scratch: the same rows."""
    from schoolcx.refsync import sync_config
    from tests import fixture_dbt_core as fx
    from tests.test_dbt_core import _dbt

    url = warehouse
    sync_config(url, fx.config(), today=fx.CONFIG_TODAY)
    fx.insert_rows(url, fx.night_one_rows(), "night-1", dt.timedelta(days=10))
    fx.insert_rows(url, fx.night_two_rows(), "night-2")
    tables = [t for t in payload_shapes.SHAPES if t in _tables(url)]
    with psycopg.connect(url) as conn:
        emptied = {
            t: conn.execute(
                f"select count(*) from raw.{t} where payload = '{{}}' and payload_z is not null"
            ).fetchone()[0]
            for t in tables
        }
    assert emptied["zendesk_tickets"] >= 2 and sum(emptied.values()) >= 4, emptied
    select = ["path:models/staging"]
    _dbt(url, tmp_path, "run", "--full-refresh", as_of=fx.AS_OF_NIGHT_TWO, select=select)
    with_rule = _stg(url)
    _restore_projections(url, tables)
    with psycopg.connect(url) as conn:
        assert all(
            conn.execute(f"select count(*) from raw.{t} where payload = '{{}}'").fetchone()[0] == 0
            for t in tables
        )
    _dbt(url, tmp_path, "run", "--full-refresh", as_of=fx.AS_OF_NIGHT_TWO, select=select)
    without = _stg(url)
    assert with_rule == without
    assert sum(len(rows) for rows in with_rule.values()) > 20


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return set(packing.raw_tables(conn))


def _restore_projections(url: str, tables: list[str]) -> None:
    with psycopg.connect(url) as conn:
        dicts = packing.Dictionaries(conn)
        for t in tables:
            rows = conn.execute(
                f"select source_instance, source_id, updated_at, payload_z, payload_dict"
                f" from raw.{t} where payload = '{{}}' and payload_z is not null"
            ).fetchall()
            for si, sid, upd, z, d in rows:
                projected = packing.project(packing.unpack(bytes(z), dicts[d]), packing.shape_of(t))
                conn.execute(
                    f"update raw.{t} set payload = %s::jsonb where source_instance = %s"
                    " and source_id = %s and updated_at = %s",
                    (json.dumps(projected), si, sid, upd),
                )


def _stg(url: str) -> dict[str, list]:
    with psycopg.connect(url) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'stg'"
                " and table_type = 'BASE TABLE' order by table_name"
            )
        ]
        return {
            n: sorted(
                json.dumps(r[0], sort_keys=True, default=str)
                for r in conn.execute(f"select to_jsonb(s) - '_loaded_at' from stg.{n} as s")
            )
            for n in names
        }
