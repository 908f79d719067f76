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
            "select count(*), md5(string_agg(source_id || updated_at::text || payload::text,"
            " ',' order by source_id)) from raw.zendesk_tickets"
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
