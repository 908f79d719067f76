"""The loader: COPY into raw, idempotent reruns, state committed with its rows, quarantine."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from schoolcx.connectors.base import LandingRecord, Page, QuarantinedRecord
from schoolcx.load.raw_writer import RawWriter, read_state

T0 = dt.datetime(2025, 9, 3, 14, 0, tzinfo=dt.UTC)


def _pages(n_pages: int, per_page: int, fail_after: int | None = None):
    for p in range(n_pages):
        if fail_after is not None and p == fail_after:
            raise ConnectionError("connection dropped mid-export")
        recs = [
            LandingRecord(
                "zendesk_tickets",
                str(p * per_page + i),
                T0 + dt.timedelta(minutes=i),
                {"id": p * per_page + i, "subject": "bus"},
                person_email="A@x.org ",
                position=f"page {p}",
            )
            for i in range(per_page)
        ]
        bad = [
            QuarantinedRecord(
                "unparsable_timestamp",
                '{"id": 9, "created_at": "nope"}',
                record_id="9",
                field="created_at",
                position=f"page {p}",
            )
        ]
        yield Page("tickets", recs, bad if p == 0 else [], {"cursor": f"c{p + 1}"})


def _write(url, pages):
    with RawWriter(
        url, source_instance="d1-zendesk", source_type="zendesk", district_id="1700001", run_id="r1"
    ) as w:
        return w.write_pages(pages)


def _raw_snapshot(url):
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select count(*), md5(string_agg(source_id || updated_at::text || payload::text"
            " || coalesce(encode(payload_z, 'hex'), ''), ',' order by source_id))"
            " from raw.zendesk_tickets"
        ).fetchone()


def test_pages_land_with_hash_state_and_quarantine(warehouse):
    summary = _write(warehouse, _pages(3, 4))
    assert (summary.pages, summary.received, summary.inserted) == (3, 12, 12)
    assert summary.quarantined == {"unparsable_timestamp": 1}
    with psycopg.connect(warehouse) as conn:
        hashes = conn.execute("select distinct person_hash from raw.zendesk_tickets").fetchall()
        assert len(hashes) == 1 and len(hashes[0][0]) == 64  # normalised: one person
        assert "a@x.org" not in str(conn.execute("select * from raw.zendesk_tickets").fetchall())
        assert read_state(conn, "d1-zendesk") == {"tickets": {"cursor": "c3"}}
        q = conn.execute("select reason, field, record_id from quarantine.records").fetchall()
        assert q == [("unparsable_timestamp", "created_at", "9")]
        run = conn.execute(
            "select status, records_loaded, records_quarantined, pages from ops.extract_runs"
        ).fetchone()
        assert run == ("success", 12, 1, 3)


def test_rerun_is_idempotent(warehouse):
    _write(warehouse, _pages(3, 4))
    before = _raw_snapshot(warehouse)
    again = _write(warehouse, _pages(3, 4))
    assert (again.inserted, again.skipped) == (0, 12)
    assert _raw_snapshot(warehouse) == before


def test_crash_between_pages_resumes_without_loss_or_duplicates(warehouse):
    with pytest.raises(ConnectionError):
        _write(warehouse, _pages(3, 4, fail_after=2))
    with psycopg.connect(warehouse) as conn:
        assert conn.execute("select count(*) from raw.zendesk_tickets").fetchone()[0] == 8
        assert read_state(conn, "d1-zendesk") == {"tickets": {"cursor": "c2"}}
        assert conn.execute("select status from ops.extract_runs").fetchone()[0] == "failed"
    resumed = _write(warehouse, _pages(3, 4))
    assert resumed.inserted == 4
    with psycopg.connect(warehouse) as conn:
        assert conn.execute(
            "select count(*), count(distinct source_id) from raw.zendesk_tickets"
        ).fetchone() == (12, 12)


def test_page_served_twice_within_one_page_is_deduplicated(warehouse):
    rec = LandingRecord("zendesk_tickets", "1", T0, {"id": 1})
    summary = _write(warehouse, [Page("tickets", [rec, rec], [], {"cursor": "x"})])
    assert (summary.inserted, summary.skipped) == (1, 1)


def _bad_page(stream="responses", night_position="page 0"):
    """One page with two bad records: one with an id, one without (an unparseable line)."""
    return Page(
        stream,
        [],
        [
            QuarantinedRecord(
                "rating_out_of_scale", '{"id": "R1", "q1": 9}', record_id="R1", field="q1"
            ),
            QuarantinedRecord("not_json", "<html>oops", position=night_position),
        ],
        {"cursor": "c1"},
    )


def test_a_bad_record_reread_by_a_later_night_is_quarantined_and_counted_once(warehouse):
    # Night 1 reads the page; nights 2 and 3 re-read it (a lookback, a resumed file), from a
    # different position in the stream: the same records, the same reasons.
    first = _write(warehouse, [_bad_page()])
    second = _write(warehouse, [_bad_page(night_position="page 3")])
    third = _write(warehouse, [_bad_page(night_position="page 7")])
    assert first.quarantined == {"rating_out_of_scale": 1, "not_json": 1}
    assert second.quarantined == {} and third.quarantined == {}
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute(
            "select reason, record_id, source_position from quarantine.records order by reason"
        ).fetchall()
        counted = conn.execute(
            "select records_quarantined from ops.extract_runs order by started_at"
        ).fetchall()
    assert rows == [("not_json", None, "page 0"), ("rating_out_of_scale", "R1", None)]
    assert counted == [(2,), (0,), (0,)]


def test_quarantine_key_keeps_distinct_reasons_fields_and_streams(warehouse):
    page = Page(
        "responses",
        [],
        [
            QuarantinedRecord("rating_out_of_scale", "{}", record_id="R1", field="q1"),
            QuarantinedRecord("rating_out_of_scale", "{}", record_id="R1", field="q2"),
            QuarantinedRecord("unknown_question", "{}", record_id="R1", field="q1"),
            QuarantinedRecord("not_json", "line a"),
            QuarantinedRecord("not_json", "line b"),
            QuarantinedRecord("not_json", "line b"),  # the same line twice in one page
        ],
        None,
    )
    summary = _write(warehouse, [page, Page("other", [], page.quarantined[:1], None)])
    assert summary.quarantined == {"rating_out_of_scale": 3, "unknown_question": 1, "not_json": 2}


def test_migration_0011_keeps_the_first_of_existing_repeats(warehouse):
    from schoolcx.warehouse import migrate

    # A warehouse from before the key: repeats already stored by earlier nights.
    with psycopg.connect(warehouse) as conn:
        conn.execute("alter table quarantine.records drop constraint records_natural_key")
        conn.execute("delete from ops.schema_migrations where version like '0011%'")
        for batch in ("night-1", "night-2", "night-3"):
            conn.execute(
                "insert into quarantine.records (source_instance, stream, batch_id, record_id,"
                " field, reason, raw_text) values ('s', 'r', %s, 'R1', null, 'bad', '{}'),"
                " ('s', 'r', %s, null, null, 'not_json', 'x')",
                (batch, batch),
            )
    assert migrate(warehouse) == ["0011_quarantine_key_publish_as_of.sql"]
    with psycopg.connect(warehouse) as conn:
        kept = conn.execute(
            "select batch_id, reason from quarantine.records order by reason"
        ).fetchall()
    assert kept == [("night-1", "bad"), ("night-1", "not_json")]
