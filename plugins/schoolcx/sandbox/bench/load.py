"""The raw writer against its ceiling: a plain COPY of the same rows into the same PostgreSQL.

    python -m schoolcx.sandbox.bench.load [ROWS] [WAREHOUSE_URL]

Pages of 1,000 synthetic Zendesk tickets (the emulator's JSON, parsed as the connector parses
it, each with its metric_set) go, page by page and interleaved so a noisy machine slows both
alike, through:

- the writer: RawWriter.write_page into raw.zendesk_tickets (payload encoding, person hash,
  COPY into its landing table, the insert that skips versions already landed, the stream's
  state and the run's counters, one transaction a page);
- the ceiling: the same rows, already encoded and packed (the projection in payload, the whole
  record compressed in payload_z with the table's dictionary), in one plain `COPY` a page (one
  transaction a page too, committed as the writer commits its pages: asynchronously) into
  bench_copy.zendesk_tickets, a copy of raw.zendesk_tickets with its key.

Only the seconds inside each call are counted; building the pages is not. Their ratio is the
writer's rows/s as a share of what the server takes in by COPY alone.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from dataclasses import asdict, dataclass

import msgspec
import psycopg

from schoolcx.connectors.base import LandingRecord, Page
from schoolcx.load import packing
from schoolcx.load.raw_writer import WRITER_COLUMNS, RawWriter
from schoolcx.privacy import hash_key, person_hash
from schoolcx.sandbox.emulators.zendesk import _metric_json, _ticket_json

PAGE = 1_000
SOURCE, DISTRICT = "bench-load", "1700001"


@dataclass
class LoadBench:
    rows: int
    writer_s: float
    copy_s: float

    @property
    def writer_rows_per_s(self) -> float:
        return self.rows / self.writer_s

    @property
    def copy_rows_per_s(self) -> float:
        return self.rows / self.copy_s

    @property
    def writer_over_copy(self) -> float:
        return self.copy_s / self.writer_s

    def as_dict(self) -> dict:
        return {
            **asdict(self),
            "writer_rows_per_s": round(self.writer_rows_per_s),
            "copy_rows_per_s": round(self.copy_rows_per_s),
            "writer_over_copy": round(self.writer_over_copy, 3),
        }


def synthetic_page(first: int, n: int) -> Page:
    """Tickets first..first+n-1 as the Zendesk connector lands them."""
    tickets = msgspec.json.decode(
        "[" + ",".join(_ticket_json(i) for i in range(first, first + n)) + "]"
    )
    metrics = msgspec.json.decode(
        "[" + ",".join(_metric_json(i) for i in range(first, first + n)) + "]"
    )
    page = Page("tickets", state={"cursor": f"bench-{first + n}"})
    for t, m in zip(tickets, metrics, strict=True):
        t["metric_set"] = m
        version = dt.datetime.fromtimestamp(t["generated_timestamp"], dt.UTC)
        page.records.append(LandingRecord("zendesk_tickets", str(t["id"]), version, t))
    return page


def copy_rows(page: Page, batch_id: str, key: bytes, packers: packing.TablePackers) -> list[tuple]:
    """The rows the writer COPYs for `page`, encoded and packed (the ceiling's input)."""
    rows = []
    for r in page.records:
        payload, payload_z, payload_dict = packers.columns(r.table, r.payload)
        rows.append(
            (
                "zendesk",
                SOURCE,
                DISTRICT,
                r.source_id,
                r.updated_at,
                person_hash(r.person_email, key),
                payload,
                batch_id,
                r.position,
                payload_z,
                payload_dict,
            )
        )
    return rows


def run(rows: int, url: str, out=sys.stdout) -> LoadBench:
    """Both paths over `rows` synthetic tickets in the migrated database at `url`."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create schema if not exists bench_copy")
        conn.execute("drop table if exists bench_copy.zendesk_tickets")
        conn.execute(
            "create table bench_copy.zendesk_tickets (like raw.zendesk_tickets including all)"
        )
    key = hash_key()
    writer_s = copy_s = 0.0
    copy_sql = f"copy bench_copy.zendesk_tickets ({', '.join(WRITER_COLUMNS)}) from stdin"
    packers = packing.TablePackers()  # the writer's dictionary: made here, or the stored one
    with psycopg.connect(url) as conn:
        sample = synthetic_page(0, 8).records
        packers.prepare(conn, "zendesk_tickets", (packing.encode(r.payload) for r in sample))
    with (
        RawWriter(
            url, source_instance=SOURCE, source_type="zendesk", district_id=DISTRICT, run_id="load"
        ) as writer,
        psycopg.connect(url) as conn,
    ):
        conn.execute("set synchronous_commit = off")  # as RawWriter commits its pages
        conn.commit()
        for n, first in enumerate(range(0, rows, PAGE)):
            page = synthetic_page(first, min(PAGE, rows - first))
            encoded = copy_rows(page, writer.batch_id, key, packers)

            def by_writer(page=page):
                started = time.monotonic()
                writer.write_page(page)
                return time.monotonic() - started

            def by_copy(encoded=encoded):
                started = time.monotonic()
                with conn.transaction(), conn.cursor().copy(copy_sql) as copy:
                    for row in encoded:
                        copy.write_row(row)
                return time.monotonic() - started

            if n % 2:  # alternate which goes first (caches, checkpoints hit both alike)
                copy_s += by_copy()
                writer_s += by_writer()
            else:
                writer_s += by_writer()
                copy_s += by_copy()
            done = first + len(encoded)
            if done % max(rows // 10, PAGE) < PAGE:
                print(
                    f"  {done:>10,} rows  writer {done / writer_s:9,.0f}/s  COPY"
                    f" {done / copy_s:9,.0f}/s",
                    file=out,
                    flush=True,
                )
        landed = conn.execute(
            "select (select count(*) from raw.zendesk_tickets),"
            " (select count(*) from bench_copy.zendesk_tickets)"
        ).fetchone()
        conn.execute("drop schema bench_copy cascade")
        conn.commit()
    if landed != (rows, rows):
        raise RuntimeError(f"expected {rows} rows each way, landed {landed}")
    result = LoadBench(rows, writer_s, copy_s)
    print(
        f"bench_load: {rows:,} rows: writer {result.writer_rows_per_s:,.0f} rows/s, plain COPY "
        f"{result.copy_rows_per_s:,.0f} rows/s = {result.writer_over_copy:.0%} of the ceiling",
        file=out,
        flush=True,
    )
    return result


def main(argv: list[str] | None = None) -> LoadBench:
    import tempfile
    from pathlib import Path

    from schoolcx.sandbox.bench.extract import _fresh_database, step_args, write_json
    from schoolcx.warehouse import embedded, migrate

    args = step_args("load", "rows", 100_000, argv)
    with tempfile.TemporaryDirectory(prefix="bench_load_") as tmp:
        url = args.url or embedded.start(Path(tmp) / "data").url
        try:
            target = _fresh_database(url)
            migrate(target)
            result = run(args.rows, target)
        finally:
            if args.url is None:
                embedded.stop(Path(tmp) / "data")
    write_json(args.json, result.as_dict())
    return result


if __name__ == "__main__":
    main()
