"""Packed raw payloads: the projection staging reads in `payload`, the whole record compressed.

A raw row of a table with a shape (schoolcx.load.payload_shapes) holds
- payload: the projection of the vendor record (jsonb; what staging reads, unchanged SQL);
- payload_z: the whole record, its JSON text as the writer encodes it, zlib-compressed with a
  preset dictionary (zdict) made for that table;
- payload_dict: the dictionary's id in raw.payload_dicts (migration 0028).
A row with payload_z null holds its whole record in payload (rows landed before packing, and
tables without a shape).

Why: PostgreSQL compresses no tuple under ~2 kB and these records are 0.3-1.5 kB, so raw held
every record's jsonb uncompressed (about half the warehouse's bytes, issue 19). One record alone
compresses poorly (zlib 2.2 kB -> 755 B); the vendor's keys and repeated values are the same in
every record of a table, so a dictionary made from a few of them brings a ticket to ~180 B and
an audit to ~85 B. A table's dictionary is made once, from the first records the writer sees,
stored before the first row that uses it and never changed (every packed row needs its own).

The shape a table's rows were projected with is recorded by its fingerprint on the table's
dictionary row; when the code's shape differs, repack() rewrites `payload` from payload_z
(`schoolcx raw repack`; the nightly prepare runs it).

Superseded versions (issue 19): staging reads a record's latest version only (the dbt macro
latest_versions); older versions serve its ordering (their metadata columns) and `schoolcx raw
show` (payload_z). So of a packed record only the latest version keeps its projection; every
superseded packed version holds the empty projection SUPERSEDED ('{}'::jsonb with payload_z not
null). land_sql() keeps this at landing (RawWriter, the dbt bench's night), in the statement
that inserts a page: the page's newest version of a record keeps its projection unless raw
holds a newer one,
the record's previous latest version in raw is emptied, and every other version lands empty.
repack() re-projects latest versions only and empties the others (a repack of a table landed
before this rule applies it to the rows already there). A row with payload_z null is never
emptied: its payload is the only copy of its record. Readers of raw payloads outside staging
must read latest versions only (connectors/imap.py).
Two writers landing versions of one record at once (a source's nightly and intraday extracts
never overlap, schoolcx.lease; a manual `schoolcx extract` could) can leave two versions with
a projection, never the latest without one: a statement empties only a version older than one
it lands, and lands a version empty only when it or raw holds a newer one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import msgspec
import psycopg

from schoolcx.load import payload_shapes

ZDICT_BYTES = 32 * 1024  # zlib's window: a longer dictionary is not used beyond its last 32 kB
ZDICT_SAMPLE_RECORDS = 8
ZDICT_SHARED_BY = 3  # a string value enters a dictionary when this many sample records hold it
LEVEL = 6
WHOLE_FINGERPRINT = "whole"  # a table without a shape: payload holds the whole record


def _json_default(value):
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


# msgspec encodes a page's payloads four times faster than json.dumps (the encoding was a third
# of the writer's time: bench.extract, issue 19). The same JSON values land; the text differs
# only where jsonb does not keep it (non-ASCII unescaped, UTC datetimes as Z; connectors
# put ISO strings in payloads, not datetimes).
_ENCODER = msgspec.json.Encoder(enc_hook=_json_default)
_DECODER = msgspec.json.Decoder()


def encode(record) -> bytes:
    """The record's JSON text as raw holds it (UTF-8)."""
    # NUL cannot be stored in jsonb; vendors do send it in free text.
    return _ENCODER.encode(record).replace(b"\\u0000", b"")


def decode(text: bytes):
    return _DECODER.decode(text)


# --- shapes -----------------------------------------------------------------------------------


def shape_of(raw_table: str) -> dict | None:
    """The table's shape, or None: its rows keep the whole record in payload."""
    return payload_shapes.SHAPES.get(raw_table)


def fingerprint(shape: dict | None) -> str:
    if shape is None:
        return WHOLE_FINGERPRINT
    text = json.dumps(shape, sort_keys=True, separators=(",", ":"))
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def project(value, shape):
    """The part of `value` that `shape` keeps (payload_shapes' docstring has the rules)."""
    return projector(shape)(value)


def projector(shape: dict | None) -> Callable:
    """project() with `shape` compiled once (the writer projects every record)."""
    if shape is None or shape is payload_shapes.WHOLE:
        return lambda value: value
    return _compile(shape)


def _compile(shape: dict) -> Callable:
    whole = tuple(k for k, sub in shape.items() if sub is payload_shapes.WHOLE)
    nested = tuple(
        (k, _compile(sub)) for k, sub in shape.items() if sub is not payload_shapes.WHOLE
    )

    def one(value):
        if isinstance(value, dict):
            out = {k: value[k] for k in whole if k in value}
            for k, sub in nested:
                if k in value:
                    out[k] = sub(value[k])
            return out
        if isinstance(value, list):
            return [one(v) for v in value]
        return value  # a scalar where the shape expects an object: kept as it came

    return one


# --- compression ------------------------------------------------------------------------------


def make_zdict(texts: Iterable[bytes]) -> bytes:
    """A dictionary from a table's first records: their texts with every string value that
    fewer than ZDICT_SHARED_BY of them hold blanked, joined, the last 32 kB.

    The dictionary outlives any one record (every packed row of the table needs it), so it
    must not be a copy of a person's record: a requester's email, a subject, a body is in one
    record (or one ticket's versions) and stays out; keys, numbers, status words, channels,
    locales shared by several records stay in. Measured on the bench's Zendesk tickets: 263 B
    a ticket against 181 B with the records whole and 291 B with every string blanked."""
    records = [decode(t) for t in itertools.islice(texts, ZDICT_SAMPLE_RECORDS)]
    held: dict[str, int] = {}
    for record in records:
        for value in set(_strings(record)):
            held[value] = held.get(value, 0) + 1
    shared = {value for value, n in held.items() if n >= ZDICT_SHARED_BY}
    sample = b"".join(encode(_blank_unshared(r, shared)) for r in records)
    return sample[-ZDICT_BYTES:]


def _strings(value) -> Iterable[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


def _blank_unshared(value, shared: set[str]):
    if isinstance(value, dict):
        return {k: _blank_unshared(v, shared) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank_unshared(v, shared) for v in value]
    if isinstance(value, str) and value not in shared:
        return ""
    return value


class Packer:
    """Compresses records of one table with its dictionary (one primed compressor, copied per
    record: a copy costs less than priming a new one with 32 kB)."""

    def __init__(self, dict_id: int, zdict: bytes):
        self.dict_id = dict_id
        self.zdict = zdict
        self._primed = zlib.compressobj(LEVEL, zdict=zdict)

    def compress(self, text: bytes) -> bytes:
        c = self._primed.copy()
        return c.compress(text) + c.flush()


def decompress(z: bytes, zdict: bytes) -> bytes:
    d = zlib.decompressobj(zdict=zdict)
    text = d.decompress(z) + d.flush()
    if not d.eof:
        raise ValueError("payload_z is truncated")
    return text


def pack(record, shape: dict | None, packer: Packer) -> tuple[bytes, bytes]:
    """(projection text, compressed whole text) of one record."""
    return encode(project(record, shape)), packer.compress(encode(record))


def unpack(payload_z: bytes, zdict: bytes):
    """The whole record of a packed row."""
    return decode(decompress(payload_z, zdict))


# --- superseded versions ---------------------------------------------------------------------

SUPERSEDED = "'{}'::jsonb"  # the projection of a superseded packed version (module docstring)
SUPERSEDED_TEXT = "{}"  # the same, as COPY text


def land_sql(raw_table: str, columns: Sequence[str], page: str) -> str:
    """The statement inserting the rows of `page` (a table with the raw table's `columns`) into
    raw.<raw_table>, skipping versions already landed; returns the inserted rows' count as its
    rowcount. For a table with a shape it also keeps the superseded rule (module docstring), set
    based in the same statement: per record of the page, its newest version in the page and its
    latest version in raw; the page's newest keeps its projection only if newer than raw's
    latest, which is then emptied; every other page row lands with the empty projection. Raw's
    latest is found by a backward scan of the primary key, one row per record (a record with
    many versions reads one), and emptied by its address (ctid) found there, in the same
    statement and snapshot. A rerun of a page lands and empties nothing."""
    table = _ident(raw_table)
    skip = " on conflict (source_instance, source_id, updated_at) do nothing"
    cols = ", ".join(columns)
    # A page can repeat a record version (a vendor serving a page twice); distinct on the key
    # keeps the insert from failing on itself.
    distinct = "distinct on (source_instance, source_id, updated_at)"
    if shape_of(table) is None:
        return f"insert into raw.{table} ({cols}) select {distinct} {cols} from {page}{skip}"
    # one backward scan of the primary key per record: its latest version alone
    latest = f"""
        select n.source_instance, n.source_id, r.updated_at, r.ctid
        from page_newest as n
        cross join lateral (
            select v.updated_at, v.ctid from raw.{table} as v
            where v.source_instance = n.source_instance and v.source_id = n.source_id
            order by v.updated_at desc
            limit 1
        ) as r"""
    picked = ", ".join(
        f"case when p.payload_z is null or n.keeps = p.updated_at then p.payload"
        f" else {SUPERSEDED} end"
        if c == "payload"
        else f"p.{c}"
        for c in columns
    )
    return f"""
        with page_newest as (
            select source_instance, source_id, max(updated_at) as updated_at
            from {page}
            group by source_instance, source_id
        ),
        raw_latest as ({latest}
        ),
        newest as (
            select n.source_instance, n.source_id, l.ctid as raw_latest,
                case when l.updated_at is null or n.updated_at > l.updated_at
                    then n.updated_at end as keeps
            from page_newest as n
            left join raw_latest as l
                on n.source_instance = l.source_instance and n.source_id = l.source_id
        ),
        emptied as (
            -- by the row's address (a TID scan): a join the planner may hash over all of raw
            update raw.{table} as r set payload = {SUPERSEDED}
            where r.ctid = any(array(
                select n.raw_latest from newest as n
                where n.raw_latest is not null and n.keeps is not null
            ))
                and r.payload_z is not null and r.payload <> {SUPERSEDED}
        )
        insert into raw.{table} ({cols})
        select {picked}
        from (select {distinct} {cols} from {page}) as p
        inner join newest as n
            on p.source_instance = n.source_instance and p.source_id = n.source_id{skip}
        """


# --- dictionaries in the warehouse ------------------------------------------------------------


def stored_dict(conn: psycopg.Connection, raw_table: str) -> tuple[int, bytes, str] | None:
    row = conn.execute(
        "select dict_id, zdict, shape_fingerprint from raw.payload_dicts where raw_table = %s",
        (raw_table,),
    ).fetchone()
    return (row[0], bytes(row[1]), row[2]) if row else None


def ensure_dict(conn: psycopg.Connection, raw_table: str, sample: Iterable[bytes]) -> Packer:
    """The table's packer: its stored dictionary, or one made from `sample` and stored now.

    Commits. Two writers making the first dictionary of a table at once: the unique raw_table
    makes the second wait for the first's commit and then use the first's dictionary.
    """
    found = stored_dict(conn, raw_table)
    if found is None:
        conn.execute(
            "insert into raw.payload_dicts (raw_table, shape_fingerprint, zdict)"
            " values (%s, %s, %s) on conflict (raw_table) do nothing",
            (raw_table, fingerprint(shape_of(raw_table)), make_zdict(sample)),
        )
        found = stored_dict(conn, raw_table)
        assert found is not None
    conn.commit()
    return Packer(found[0], found[1])


class TablePackers:
    """The packing of every table one loader writes: its shape and dictionary, per table.

    prepare() before a table's first rows (it may store the dictionary and commit); columns()
    then gives each record's (payload text, payload_z, payload_dict).
    """

    def __init__(self):
        self._packers: dict[str, tuple[Packer, Callable] | None] = {}

    def prepare(self, conn: psycopg.Connection, raw_table: str, sample: Iterable[bytes]) -> None:
        if raw_table not in self._packers:
            shape = shape_of(raw_table)
            self._packers[raw_table] = (
                None if shape is None else (ensure_dict(conn, raw_table, sample), projector(shape))
            )

    def columns(self, raw_table: str, record) -> tuple[str, bytes | None, int | None]:
        whole = encode(record)
        packing = self._packers[raw_table]
        if packing is None:
            return whole.decode(), None, None
        packer, project_record = packing
        return encode(project_record(record)).decode(), packer.compress(whole), packer.dict_id


class Dictionaries:
    """Dictionaries by id, read once per connection (unpacking many rows)."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn
        self._by_id: dict[int, bytes] = {}

    def __getitem__(self, dict_id: int) -> bytes:
        if dict_id not in self._by_id:
            row = self.conn.execute(
                "select zdict from raw.payload_dicts where dict_id = %s", (dict_id,)
            ).fetchone()
            if row is None:
                raise KeyError(f"raw.payload_dicts has no dictionary {dict_id}")
            self._by_id[dict_id] = bytes(row[0])
        return self._by_id[dict_id]


def full_payload(dicts: Dictionaries, payload, payload_z, payload_dict):
    """The whole vendor record of a raw row (its payload when the row is not packed)."""
    if payload_z is None:
        return payload
    return unpack(bytes(payload_z), dicts[payload_dict])


def select_whole(conn: psycopg.Connection, query: str, params=()) -> list[tuple]:
    """Rows of `query`, whose last three columns are payload, payload_z, payload_dict, with
    those three replaced by the whole record (what `select ..., payload` gave before packing)."""
    dicts = Dictionaries(conn)
    return [(*r[:-3], full_payload(dicts, *r[-3:])) for r in conn.execute(query, params)]


def versions(
    conn: psycopg.Connection, raw_table: str, source_id: str, source_instance: str | None = None
) -> list[dict]:
    """Every landed version of one record, oldest first, each with its whole payload."""
    where = "source_id = %s" + (" and source_instance = %s" if source_instance else "")
    params = (source_id, source_instance) if source_instance else (source_id,)
    rows = conn.execute(
        "select source_instance, source_id, updated_at, _loaded_at, _batch_id,"
        f" payload, payload_z, payload_dict from raw.{_ident(raw_table)} where {where}"
        " order by source_instance, updated_at, _loaded_at",
        params,
    ).fetchall()
    dicts = Dictionaries(conn)
    return [
        {
            "source_instance": r[0],
            "source_id": r[1],
            "updated_at": r[2].isoformat(),
            "loaded_at": r[3].isoformat(),
            "batch_id": r[4],
            "packed": r[6] is not None,
            "payload": full_payload(dicts, r[5], r[6], r[7]),
        }
        for r in rows
    ]


def _ident(raw_table: str) -> str:
    if not raw_table.replace("_", "").isalnum():
        raise ValueError(f"not a raw table name: {raw_table!r}")
    return raw_table


def raw_tables(conn: psycopg.Connection) -> list[str]:
    """The landing tables (those with payload_z: every raw table after migration 0028)."""
    rows = conn.execute(
        "select table_name from information_schema.columns"
        " where table_schema = 'raw' and column_name = 'payload_z' order by table_name"
    ).fetchall()
    return [r[0] for r in rows]


# --- repack -----------------------------------------------------------------------------------


@dataclass
class RepackSummary:
    raw_table: str
    old_fingerprint: str
    new_fingerprint: str
    rewritten: int = 0
    superseded: int = 0  # of those rewritten: superseded versions, their projection emptied
    whole: int = 0  # rows without payload_z: their payload is the whole record already
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"raw.{self.raw_table}: shape {self.old_fingerprint[:8]} -> "
            f"{self.new_fingerprint[:8]}, {self.rewritten:,} payloads rewritten from payload_z "
            f"({self.superseded:,} superseded versions emptied), "
            f"{self.whole:,} whole payloads left as they are, in {self.seconds:.1f}s"
        )


def stale_tables(conn: psycopg.Connection) -> list[str]:
    """Tables whose rows were projected with another shape than the code's."""
    rows = conn.execute("select raw_table, shape_fingerprint from raw.payload_dicts").fetchall()
    return sorted(t for t, fp in rows if fp != fingerprint(shape_of(t)))


def repack(
    url: str,
    raw_table: str,
    *,
    batch_rows: int = 20_000,
    progress: Callable[[str], None] | None = None,
) -> RepackSummary:
    """Rewrite `payload` of the table's packed rows from payload_z with the code's shape: the
    latest version of each record re-projected, every superseded one emptied (SUPERSEDED).

    In batches by primary key, one transaction each (COPY of the new projections into a temp
    table, update by key); the table's fingerprint is recorded after the last batch, so a repack
    cut short runs again whole next time (rewriting a row twice gives the same payload).
    """
    table = _ident(raw_table)
    shape = shape_of(table)
    new_fp = fingerprint(shape)
    started = time.monotonic()
    with psycopg.connect(url) as conn:
        found = stored_dict(conn, table)
        old_fp = found[2] if found else new_fp
        summary = RepackSummary(table, old_fp, new_fp)
        summary.whole = conn.execute(
            f"select count(*) from raw.{table} where payload_z is null"
        ).fetchone()[0]
        total = conn.execute(
            f"select count(*) from raw.{table} where payload_z is not null"
        ).fetchone()[0]
        conn.execute(
            "create temp table _repack (source_instance text, source_id text,"
            " updated_at timestamptz, payload jsonb) on commit delete rows"
        )
        conn.commit()
        dicts = Dictionaries(conn)
        project_record = projector(shape)
        last = None
        while True:
            after = "and (source_instance, source_id, updated_at) > (%s, %s, %s)" if last else ""
            # payload_z of latest versions only: a superseded version's projection is emptied
            # (the module docstring), whatever it held before
            rows = conn.execute(
                "select source_instance, source_id, updated_at,"
                " case when updated_at = (select max(v.updated_at)"
                f"  from raw.{table} as v where v.source_instance = r.source_instance"
                "  and v.source_id = r.source_id) then payload_z end, payload_dict"
                f" from raw.{table} as r where payload_z is not null {after}"
                " order by source_instance, source_id, updated_at limit %s",
                (*(last or ()), batch_rows),
            ).fetchall()
            if not rows:
                break
            # projected before the COPY: a dictionary not read yet is a query on this connection
            projected = [
                (
                    si,
                    sid,
                    upd,
                    "{}"
                    if z is None
                    else encode(project_record(unpack(bytes(z), dicts[d]))).decode(),
                )
                for si, sid, upd, z, d in rows
            ]
            summary.superseded += sum(1 for r in rows if r[3] is None)
            with conn.transaction():
                cur = conn.cursor()
                with cur.copy("copy _repack from stdin") as copy:
                    for row in projected:
                        copy.write_row(row)
                cur.execute(
                    f"update raw.{table} as r set payload = n.payload from _repack as n"
                    " where r.source_instance = n.source_instance"
                    " and r.source_id = n.source_id and r.updated_at = n.updated_at"
                )
            summary.rewritten += len(rows)
            last = rows[-1][:3]
            if progress:
                progress(f"raw.{table}: {summary.rewritten:,} of {total:,} payloads rewritten")
        if found:
            conn.execute(
                "update raw.payload_dicts set shape_fingerprint = %s where dict_id = %s",
                (new_fp, found[0]),
            )
        conn.commit()
    if summary.rewritten:  # the old row versions' space, for the next loads to reuse
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"vacuum raw.{table}")
    summary.seconds = time.monotonic() - started
    return summary


def repack_stale(
    url: str, tables: list[str] | None = None, progress: Callable[[str], None] | None = None
) -> list[RepackSummary]:
    """Repack the given tables, or every table whose recorded shape is not the code's."""
    if tables is None:
        with psycopg.connect(url) as conn:
            tables = stale_tables(conn)
    return [repack(url, t, progress=progress) for t in tables]
