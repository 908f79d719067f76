"""Content checksums of relations: what publish records and what tests compare.

A relation's checksum is the md5 of its rows' md5s in sorted order, so it depends on the
content only (not on physical row order). Row text depends on session settings (time zone,
date and float output), so those are pinned for the computation.
"""

from __future__ import annotations

import hashlib

import psycopg
from psycopg import sql

from schoolcx.publish.relations import MARTS, MARTS_SCHEMA

PINNED_SETTINGS = (
    "set local timezone to 'UTC'",
    "set local datestyle to 'ISO, YMD'",
    "set local intervalstyle to 'postgres'",
    "set local extra_float_digits to 1",
)


def relation_checksum(conn: psycopg.Connection, schema: str, table: str) -> tuple[int, str]:
    """(row count, checksum) of schema.table, inside the caller's transaction."""
    for stmt in PINNED_SETTINGS:
        conn.execute(stmt)
    row = conn.execute(
        sql.SQL(
            "select count(*), md5(coalesce(string_agg(h, '' order by h), ''))"
            " from (select md5(t::text) as h from {}.{} t) s"
        ).format(sql.Identifier(schema), sql.Identifier(table))
    ).fetchone()
    return int(row[0]), row[1]


def combine(checksums: dict[str, str]) -> str:
    """One checksum for a night: the md5 of `mart=checksum` lines in mart order."""
    text = "\n".join(f"{m}={checksums[m]}" for m in sorted(checksums))
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def marts_checksum(url: str) -> dict[str, str]:
    """Checksum of every published mart that exists (mart -> md5); read in one snapshot."""
    out: dict[str, str] = {}
    with psycopg.connect(url) as conn:
        conn.execute("set transaction isolation level repeatable read")
        for mart in MARTS:
            exists = conn.execute("select to_regclass(%s)", (f"{MARTS_SCHEMA}.{mart}",))
            if exists.fetchone()[0] is not None:
                out[mart] = relation_checksum(conn, MARTS_SCHEMA, mart)[1]
    return out
