"""File drop connector: CSVs in a folder, loaded once per content, bad rows quarantined."""

from __future__ import annotations

import datetime as dt
import os

import psycopg
import pytest

from schoolcx.config import District, Source
from schoolcx.connectors.base import ConnectorContext, ConnectorError
from schoolcx.connectors.file_drop import FileDropConnector, check_row
from schoolcx.load.packing import select_whole
from schoolcx.load.raw_writer import RawWriter, read_state

DISTRICT = District(
    district_id="1700001",
    name="Lincoln",
    state="IL",
    timezone="America/Chicago",
    enrollment={2026: 5000},
)
COLUMNS = {
    "id": "Call ID",
    "created_at": "Started",
    "channel": "Channel",
    "priority": "Priority",
    "requester_email": "Caller Email",
    "first_response_at": "Answered",
}
HEADER = "Call ID,Started,Channel,Priority,Caller Email,Answered,Ignored\n"
UNTIL = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def _source(folder, kind="interactions", columns=None) -> Source:
    return Source(
        name="d1-calls",
        type="file_drop",
        start_date=dt.date(2025, 8, 1),
        options={"path": str(folder), "kind": kind, "columns": columns or COLUMNS},
    )


def _load(url: str, source: Source):
    ctx = ConnectorContext(DISTRICT, source, None)
    with RawWriter(
        url, source_instance=source.name, source_type="file_drop", district_id="1700001", run_id="t"
    ) as writer:
        return writer.write_pages(FileDropConnector(ctx).pages(writer.state(), UNTIL))


def _write(path, text: str, mtime: float) -> None:
    path.write_text(text)
    os.utime(path, (mtime, mtime))


def test_loaded_once_changed_file_reloaded_as_new_version(warehouse, tmp_path):
    t1 = dt.datetime(2025, 9, 3, 12, tzinfo=dt.UTC).timestamp()
    _write(
        tmp_path / "calls_2025-09-02.csv",
        HEADER + "c1,2025-09-02T08:00:00-05:00,phone,high,A@X.org,2025-09-02T09:00:00-05:00,z\n"
        "c2,2025-09-02T10:00:00-05:00,phone,,b@x.org,,z\n",
        t1,
    )
    _write(
        tmp_path / "calls_2025-09-01.csv",
        HEADER + "c0,2025-09-01T08:00:00-05:00,walk_in,normal,,,\n",
        t1,
    )
    (tmp_path / "notes.txt").write_text("not a csv")
    first = _load(warehouse, _source(tmp_path))
    assert (first.inserted, first.quarantined_total) == (3, 0)
    again = _load(warehouse, _source(tmp_path))
    assert (again.received, again.pages) == (0, 0)  # same content: not read again

    # The district re-exports one day with a correction and one more row.
    t2 = t1 + 86400
    _write(
        tmp_path / "calls_2025-09-02.csv",
        HEADER + "c1,2025-09-02T08:00:00-05:00,phone,urgent,a@x.org,2025-09-02T08:30:00-05:00,z\n"
        "c2,2025-09-02T10:00:00-05:00,phone,,b@x.org,,z\n"
        "c3,2025-09-02T11:00:00-05:00,email,low,c@x.org,,z\n",
        t2,
    )
    changed = _load(warehouse, _source(tmp_path))
    assert changed.inserted == 3
    with psycopg.connect(warehouse) as conn:
        rows = select_whole(
            conn,
            "select source_id, updated_at, payload, payload_z, payload_dict"
            " from raw.file_drop_rows order by source_id, updated_at",
        )
        state = read_state(conn, "d1-calls")["files"]
        hashes = conn.execute(
            "select count(distinct person_hash) from raw.file_drop_rows where source_id = 'c1'"
        ).fetchone()[0]
    versions = [(r[0], r[1]) for r in rows if r[0] == "c1"]
    assert [v[1].timestamp() for v in versions] == [t1, t2]
    latest = rows[[r[0] for r in rows].index("c1") + 1][2]
    assert latest["row"] == {
        "id": "c1",
        "created_at": "2025-09-02T08:00:00-05:00",
        "channel": "phone",
        "priority": "urgent",
        "requester_email": "a@x.org",
        "first_response_at": "2025-09-02T08:30:00-05:00",
    }
    assert latest["row_number"] == 2 and latest["kind"] == "interactions"
    assert (
        len(latest["file_sha256"]) == 64 and latest["file_sha256"] == state["calls_2025-09-02.csv"]
    )
    assert set(state) == {"calls_2025-09-01.csv", "calls_2025-09-02.csv"}
    assert hashes == 1  # 'A@X.org' and 'a@x.org' are one person


def test_bad_rows_quarantined_with_row_number_and_field(warehouse, tmp_path):
    _write(
        tmp_path / "calls.csv",
        HEADER + "c1,2025-09-02T08:00:00,phone,high,a@x.org,,\n"
        ",2025-09-02T08:00:00,phone,high,a@x.org,,\n"  # row 3: no id
        "c3,yesterday,phone,high,a@x.org,,\n"  # row 4: bad timestamp
        "c4,2025-09-02T08:00:00,fax,high,a@x.org,,\n"  # row 5: unknown channel
        "c5,2025-09-02T08:00:00,phone,asap,a@x.org,,\n"  # row 6: unknown priority
        "c6,2025-09-02T08:00:00,phone,low,a@x.org,noon,\n"  # row 7: bad answered time
        "c1,2025-09-02T09:00:00,phone,low,a@x.org,,\n"  # row 8: repeated id
        "\n"
        "c9,2025-09-02T08:00:00,phone,low,a@x.org,,,extra\n",  # row 10: too many fields
        dt.datetime(2025, 9, 3, tzinfo=dt.UTC).timestamp(),
    )
    summary = _load(warehouse, _source(tmp_path))
    assert summary.inserted == 1
    with psycopg.connect(warehouse) as conn:
        q = conn.execute(
            "select source_position, reason, field, record_id"
            " from quarantine.records order by quarantine_id"
        ).fetchall()
    assert q == [
        ("calls.csv:3", "missing_id", "id", None),
        ("calls.csv:4", "unparsable_timestamp", "created_at", "c3"),
        ("calls.csv:5", "value_out_of_range", "channel", "c4"),
        ("calls.csv:6", "value_out_of_range", "priority", "c5"),
        ("calls.csv:7", "unparsable_timestamp", "first_response_at", "c6"),
        ("calls.csv:8", "duplicate_id", "id", "c1"),
        ("calls.csv:10", "malformed_row", None, "c9"),
    ]


def test_missing_column_quarantines_the_file_once(warehouse, tmp_path):
    _write(
        tmp_path / "calls.csv",
        "Call ID,Started\nc1,2025-09-02T08:00:00\n",
        dt.datetime(2025, 9, 3, tzinfo=dt.UTC).timestamp(),
    )
    first = _load(warehouse, _source(tmp_path))
    assert first.quarantined == {"missing_column": 1} and first.inserted == 0
    assert _load(warehouse, _source(tmp_path)).quarantined_total == 0  # not again until changed
    # The next day's export from the same template has the same fault: a file of its own, so
    # it is quarantined too (the fault's text alone would make it the first file's row).
    _write(
        tmp_path / "calls-2.csv",
        "Call ID,Started\nc2,2025-09-03T08:00:00\n",
        dt.datetime(2025, 9, 4, tzinfo=dt.UTC).timestamp(),
    )
    second = _load(warehouse, _source(tmp_path))
    assert second.quarantined == {"missing_column": 1} and second.inserted == 0
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute(
            "select source_position, record_id from quarantine.records order by 1"
        ).fetchall()
    assert [r[0] for r in rows] == ["calls-2.csv:1", "calls.csv:1"]
    assert all(r[1].startswith(r[0].split(":")[0] + "@sha256:") for r in rows)


def test_climate_and_ratings_checks():
    assert (
        check_row(
            "climate", {"id": "1", "submitted_at": "2025-09-01", "item_code": "safe", "answer": "4"}
        )
        is None
    )
    assert (
        check_row(
            "climate",
            {"id": "1", "submitted_at": "2025-09-01", "item_code": "safe", "answer": "Don't know"},
        )
        is None
    )
    assert check_row(
        "climate", {"id": "1", "submitted_at": "2025-09-01", "item_code": "safe", "answer": "7"}
    ) == ("value_out_of_range", "answer")
    ok = {
        "id": "r1",
        "interaction_id": "c1",
        "rated_at": "2025-09-02T10:00:00Z",
        "rating": "9",
        "scale_lo": "0",
        "scale_hi": "10",
    }
    assert check_row("ratings", ok) is None
    assert check_row("ratings", {**ok, "rating": "11"}) == ("value_out_of_range", "rating")
    assert check_row("ratings", {**ok, "rating": "good"}) is None
    assert check_row("ratings", {**ok, "interaction_id": ""}) == ("missing_value", "interaction_id")


def test_large_file_streams_in_pages(warehouse, tmp_path):
    rows = "".join(f"c{n},2025-09-02T08:00:00,phone,low,p{n % 50}@x.org,,\n" for n in range(12001))
    _write(tmp_path / "big.csv", HEADER + rows, dt.datetime(2025, 9, 3, tzinfo=dt.UTC).timestamp())
    summary = _load(warehouse, _source(tmp_path))
    assert (summary.inserted, summary.pages) == (12001, 3)


def test_bad_config_and_missing_folder(tmp_path):
    with pytest.raises(ConnectorError, match="unknown landing fields"):
        FileDropConnector(
            ConnectorContext(DISTRICT, _source(tmp_path, columns={"nope": "x"}), None)
        )
    connector = FileDropConnector(ConnectorContext(DISTRICT, _source(tmp_path / "gone"), None))
    with pytest.raises(ConnectorError, match="does not exist"):
        list(connector.pages({}, UNTIL))


def _latest_rows(url: str) -> dict[str, tuple[dt.datetime, dict]]:
    with psycopg.connect(url) as conn:
        return {
            r[0]: (r[1], r[2])
            for r in select_whole(
                conn,
                "select distinct on (source_id) source_id, updated_at, payload, payload_z,"
                " payload_dict from raw.file_drop_rows order by source_id, updated_at desc",
            )
        }


def test_row_in_two_overlapping_files_is_one_row_newest_wins(warehouse, tmp_path):
    # "Last 7 days" exports: c2 is in both files, corrected in the later one.
    t1 = dt.datetime(2025, 9, 3, 12, tzinfo=dt.UTC).timestamp()
    t2 = t1 + 86400
    _write(
        tmp_path / "calls_2025-09-03.csv",
        HEADER + "c1,2025-09-01T08:00:00-05:00,phone,high,a@x.org,,z\n"
        "c2,2025-09-02T10:00:00-05:00,phone,low,b@x.org,,z\n",
        t1,
    )
    _write(
        tmp_path / "calls_2025-09-04.csv",
        HEADER + "c2,2025-09-02T10:00:00-05:00,phone,urgent,b@x.org,,z\n"
        "c3,2025-09-03T11:00:00-05:00,email,low,c@x.org,,z\n",
        t2,
    )
    _load(warehouse, _source(tmp_path))
    latest = _latest_rows(warehouse)
    assert set(latest) == {"c1", "c2", "c3"}  # c2 once, keyed on its own id
    assert latest["c2"][1]["row"]["priority"] == "urgent"  # the newer file's version
    assert latest["c2"][0].timestamp() == t2


def test_updated_at_column_is_the_version(warehouse, tmp_path):
    columns = {**COLUMNS, "updated_at": "Changed"}
    header = "Call ID,Started,Channel,Priority,Caller Email,Answered,Changed\n"
    t1 = dt.datetime(2025, 9, 3, 12, tzinfo=dt.UTC).timestamp()
    # the later file re-delivers c1 unchanged (same Changed): the same version, not a new one;
    # the earlier-named file holds the newer c2
    _write(
        tmp_path / "a.csv",
        header + "c1,2025-09-01T08:00:00,phone,high,,,2025-09-01T09:00:00Z\n"
        "c2,2025-09-01T08:00:00,phone,urgent,,,2025-09-02T09:00:00Z\n",
        t1 + 86400,
    )
    _write(
        tmp_path / "b.csv",
        header + "c1,2025-09-01T08:00:00,phone,high,,,2025-09-01T09:00:00Z\n"
        "c2,2025-09-01T08:00:00,phone,low,,,2025-09-01T09:00:00Z\n",
        t1,
    )
    summary = _load(warehouse, _source(tmp_path, columns=columns))
    assert (summary.received, summary.inserted) == (4, 3)
    latest = _latest_rows(warehouse)
    assert latest["c2"][1]["row"]["priority"] == "urgent"
    assert latest["c1"][0] == dt.datetime(2025, 9, 1, 9, tzinfo=dt.UTC)


def test_rows_landed_under_the_old_file_key_are_rekeyed_once(warehouse, tmp_path):
    """Before issue 14 a row was keyed '<file>:<id>': an upgraded deployment would hold a row
    re-delivered after the upgrade under both keys. Migration 0012 rekeys the old rows, keeping
    one copy where two files landed the same version."""
    from schoolcx.warehouse.migrate import migration_files

    day = dt.datetime(2025, 9, 3, tzinfo=dt.UTC).timestamp()
    both = HEADER + "c1,2025-09-02T08:00:00,phone,,,,\nc2,2025-09-02T09:00:00,phone,,,,\n"
    _write(tmp_path / "week_a.csv", both, day)
    _write(tmp_path / "week_b.csv", both, day)  # the same export again, same version
    assert _load(warehouse, _source(tmp_path)).inserted == 2
    with psycopg.connect(warehouse) as conn:
        # land what the old connector landed: one row per file, keyed '<file>:<id>'
        conn.execute(
            "insert into raw.file_drop_rows (source_system, source_instance, district_id,"
            " source_id, updated_at, payload, _batch_id)"
            " select source_system, source_instance, district_id, f || ':' || source_id,"
            " updated_at, jsonb_set(payload, '{file}', to_jsonb(f)), _batch_id"
            " from raw.file_drop_rows, unnest(array['week_a.csv', 'week_b.csv']) f"
        )
        conn.execute("delete from raw.file_drop_rows where source_id not like '%:%'")
        assert conn.execute("select count(*) from raw.file_drop_rows").fetchone()[0] == 4
        sql = dict(migration_files())["0012_file_drop_rows_own_id.sql"]
        conn.execute(sql)
        rows = conn.execute(
            "select source_id, payload->>'file' from raw.file_drop_rows order by 1"
        ).fetchall()
    assert rows == [("c1", "week_a.csv"), ("c2", "week_a.csv")]
    # and a re-delivery after the upgrade lands nothing new
    _write(tmp_path / "week_c.csv", both, day)
    assert _load(warehouse, _source(tmp_path)).inserted == 0
