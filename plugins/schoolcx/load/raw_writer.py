"""Stream connector pages into raw.* through COPY, one transaction per page.

Each page: COPY its records into a temporary table, insert into the raw table skipping versions
already landed (primary key source_instance, source_id, updated_at), write its quarantined
records, then store the stream's new state, all in one transaction. A crash between pages
leaves the state of the last committed page, and the rerun skips what is already there.

Packed payloads (schoolcx.load.packing): a record of a table with a shape lands as its
projection (payload, what staging reads) and its whole text compressed with the table's
dictionary (payload_z, payload_dict). The dictionary is made from the first records of the
table this writer sees, unless one is stored already, and committed before the page that
uses it. A table without a shape lands the whole record in payload as before.
Only the latest version of a packed record keeps its projection: the page's insert empties the
one it supersedes, in the same statement (packing.land_sql; packing's docstring has the rule).

Pages commit asynchronously (synchronous_commit off for this session): waiting for each page's
WAL flush was half the time a page took (bench.load, issue 19). A server crash can then lose
the last pages committed, but a page's rows and the state after it are one transaction, so they
are lost together and the rerun extracts them again. The run's last commit (its status) is
synchronous, and a flush writes all the WAL before it: a run reported finished is durable.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import psycopg
from psycopg.types.json import Jsonb

from schoolcx.connectors.base import Page
from schoolcx.load import packing
from schoolcx.privacy import hash_key, person_hash

RAW_COLUMNS = (
    "source_system",
    "source_instance",
    "district_id",
    "source_id",
    "updated_at",
    "person_hash",
    "payload",
    "_batch_id",
    "_source_position",
)
# what the writer lands: the landing columns and the packed payload (migration 0028)
WRITER_COLUMNS = (*RAW_COLUMNS, "payload_z", "payload_dict")


@dataclass
class LoadSummary:
    source_instance: str
    source_type: str
    batch_id: str
    pages: int = 0
    received: int = 0
    inserted: int = 0  # new record versions landed
    skipped: int = 0  # versions already in raw (rerun / overlapping window)
    quarantined: Counter = field(default_factory=Counter)  # reason -> count
    seconds: float = 0.0

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    def line(self) -> str:
        q = ", ".join(f"{r}: {n}" for r, n in sorted(self.quarantined.items())) or "none"
        return (
            f"{self.source_instance} ({self.source_type}): {self.pages} pages, "
            f"{self.received} records, {self.inserted} new, {self.skipped} already loaded, "
            f"quarantined {self.quarantined_total} ({q}) in {self.seconds:.1f}s"
        )


def read_state(conn: psycopg.Connection, source_instance: str) -> dict[str, dict]:
    rows = conn.execute(
        "select stream, state from ops.extract_state where source_instance = %s",
        (source_instance,),
    ).fetchall()
    return {stream: state for stream, state in rows}


class RawWriter:
    """Writes pages of one source; use as a context manager around a connector's page stream."""

    def __init__(
        self,
        url: str,
        *,
        source_instance: str,
        source_type: str,
        district_id: str,
        run_id: str,
        on_page: Callable[[Page, LoadSummary], None] | None = None,
    ):
        self.url = url
        self.source_instance = source_instance
        self.source_type = source_type
        self.district_id = district_id
        self.run_id = run_id
        self.batch_id = f"{run_id}:{source_instance}:{uuid.uuid4().hex[:8]}"
        self.summary = LoadSummary(source_instance, source_type, self.batch_id)
        self.on_page = on_page
        self._key = hash_key()
        self._conn: psycopg.Connection | None = None
        self._packers = packing.TablePackers()

    def __enter__(self) -> RawWriter:
        self._conn = psycopg.connect(self.url)
        self._conn.execute("set synchronous_commit = off")  # pages; see the module docstring
        self._conn.execute(
            "insert into ops.extract_runs (run_id, batch_id, source_instance, source_type)"
            " values (%s, %s, %s, %s)",
            (self.run_id, self.batch_id, self.source_instance, self.source_type),
        )
        self._conn.commit()
        return self

    @property
    def backend_pid(self) -> int:
        """The PostgreSQL server process of this writer's session (a benchmark reads its CPU)."""
        assert self._conn is not None
        return self._conn.info.backend_pid

    def state(self) -> dict[str, dict]:
        assert self._conn is not None
        state = read_state(self._conn, self.source_instance)
        self._conn.commit()
        return state

    def write_pages(self, pages: Iterable[Page]) -> LoadSummary:
        started = time.monotonic()
        for page in pages:
            self.write_page(page)
        self.summary.seconds += time.monotonic() - started
        return self.summary

    def write_page(self, page: Page) -> None:
        conn = self._conn
        assert conn is not None
        by_table: dict[str, list] = {}
        for rec in page.records:
            by_table.setdefault(rec.table, []).append(rec)
        for table, records in by_table.items():
            # a new dictionary is committed before the page: no row lands before it
            self._packers.prepare(conn, table, (packing.encode(r.payload) for r in records))
        inserted = 0
        with conn.transaction():
            for n, (table, records) in enumerate(by_table.items(), 1):
                inserted += self._copy_table(conn, table, records, n < len(by_table))
            new_quarantined = self._quarantine(conn, page) if page.quarantined else []
            if page.state is not None:
                conn.execute(
                    "insert into ops.extract_state (source_instance, stream, state, updated_at)"
                    " values (%s, %s, %s, now()) on conflict (source_instance, stream)"
                    " do update set state = excluded.state, updated_at = now()",
                    (self.source_instance, page.stream, Jsonb(page.state)),
                )
            s = self.summary
            s.pages += 1
            s.received += len(page.records)
            s.inserted += inserted
            s.skipped += len(page.records) - inserted
            s.quarantined.update(new_quarantined)  # a record already quarantined counts once
            conn.execute(
                "update ops.extract_runs set pages = %s, records_loaded = %s,"
                " records_quarantined = %s where batch_id = %s",
                (s.pages, s.inserted, s.quarantined_total, self.batch_id),
            )
        if self.on_page:
            self.on_page(page, self.summary)

    def _quarantine(self, conn: psycopg.Connection, page: Page) -> list[str]:
        """Quarantine the page's bad records; the reasons of those not quarantined before.

        quarantine.records has a natural key (source_instance, stream, record identity,
        reason, field; migration 0011): a record re-read by a later night (a lookback, a
        resumed file) or twice in one page is kept once, with the batch that first saw it.
        """
        cur = conn.cursor()
        cur.execute(
            "create temp table if not exists _quarantine_landing"
            " (like quarantine.records including defaults including generated)"
            " on commit delete rows"
        )
        with cur.copy(
            "copy _quarantine_landing (quarantine_id, source_instance, stream, batch_id,"
            " source_position, record_id, field, reason, raw_text) from stdin"
        ) as copy:
            for n, q in enumerate(page.quarantined):
                copy.write_row(
                    (
                        n,  # order within the page: the first of two copies is kept
                        self.source_instance,
                        page.stream,
                        self.batch_id,
                        q.position,
                        q.record_id,
                        q.field,
                        q.reason,
                        q.raw_text.replace("\x00", ""),
                    )
                )
        cols = "source_instance, stream, batch_id, source_position, record_id, field, reason"
        # distinct on the key: a page repeating a record would otherwise conflict with itself;
        # then in page order, so quarantine_id follows the order the records came in
        cur.execute(
            f"insert into quarantine.records ({cols}, raw_text)"
            f" select {cols}, raw_text from ("
            f"  select distinct on (source_instance, stream, record_identity, reason, field)"
            f"  {cols}, raw_text, quarantine_id as page_order from _quarantine_landing"
            "   order by source_instance, stream, record_identity, reason, field, quarantine_id"
            " ) as first_copies order by page_order"
            " on conflict on constraint records_natural_key do nothing returning reason"
        )
        return [r[0] for r in cur.fetchall()]

    def _copy_table(
        self, conn: psycopg.Connection, table: str, records: list, more_tables: bool
    ) -> int:
        cur = conn.cursor()
        # Emptied by each commit in place; a TRUNCATE a page gave the table a new file each
        # time (created, then unlinked at commit), the dearer way to empty 1,000 rows.
        cur.execute(
            "create temp table if not exists _landing (like raw.zendesk_tickets including defaults)"
            " on commit delete rows"
        )
        columns = self._packers.columns
        with cur.copy(f"copy _landing ({', '.join(WRITER_COLUMNS)}) from stdin") as copy:
            for r in records:
                payload, payload_z, dict_id = columns(table, r.payload)
                copy.write_row(
                    (
                        self.source_type,
                        self.source_instance,
                        self.district_id,
                        r.source_id,
                        r.updated_at,
                        person_hash(r.person_email, self._key),
                        payload,
                        self.batch_id,
                        r.position,
                        payload_z,
                        dict_id,
                    )
                )
        # one statement: the page's new versions, and the projections they supersede emptied
        cur.execute(packing.land_sql(table, WRITER_COLUMNS, "_landing"))
        inserted = cur.rowcount
        if more_tables:  # the next table of this page lands through it in this transaction
            cur.execute("delete from _landing")
        return inserted

    def __exit__(self, exc_type, exc, tb):
        conn = self._conn
        assert conn is not None
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
        status = "failed" if exc_type else "success"
        error = f"{exc_type.__name__}: {exc}"[:2000] if exc_type else None
        conn.execute("set local synchronous_commit = on")  # flushes every page's commit too
        conn.execute(
            "update ops.extract_runs set status = %s, finished_at = now(), error = %s"
            " where batch_id = %s",
            (status, error, self.batch_id),
        )
        conn.commit()
        conn.close()
        return False
