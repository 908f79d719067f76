"""Archive an old school year out of the partitioned facts (`schoolcx warehouse archive-year`).

Each fact partitioned by school year, in `marts` and in `build`, loses that year's partition:
detached, then exported to <dir>/<schema>.<partition>.csv.gz (COPY, with a header) and dropped,
or without a directory moved into the `archive` schema (no grants: BI readers never see it).
One transaction: every fact loses the year, or none does. Recorded in
ops.archived_school_years, which publishing reads so the year is not published again.

The current school year (and any later one) is refused: the nightly run writes it.
"""

from __future__ import annotations

import datetime as dt
import gzip
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from schoolcx.asof import school_year_of
from schoolcx.publish.partitions import Partition, partitions
from schoolcx.publish.relations import BUILD_SCHEMA, MARTS, MARTS_SCHEMA

ARCHIVE_SCHEMA = "archive"
# detaching takes an ACCESS EXCLUSIVE lock on the parent: fail rather than queue BI readers
# behind a long query (rerun the command)
DETACH_LOCK_TIMEOUT = "30s"


class ArchiveRefused(ValueError):
    """The year may not be archived (the current or a future school year)."""


@dataclass(frozen=True)
class ArchivedPartition:
    table: str  # schema.table of the parent
    partition: str
    rows: int
    archived_to: str  # a file, or archive.<schema>_<partition>


def archive_year(
    url: str, school_year: int, to_dir: Path | None = None, *, today: dt.date | None = None
) -> list[ArchivedPartition]:
    """Detach `school_year`'s partitions of the partitioned facts of marts and build; export
    them to `to_dir` and drop them, or keep them in the `archive` schema. Returns what moved
    (empty when no fact holds the year)."""
    current = school_year_of(today or dt.date.today())
    if school_year >= current:
        raise ArchiveRefused(
            f"school year {school_year - 1}-{school_year % 100:02d} is "
            + ("the current one" if school_year == current else "not over")
            + f" (current: {current - 1}-{current % 100:02d}): the nightly run still writes it"
        )
    done: list[ArchivedPartition] = []
    with psycopg.connect(url) as conn:
        conn.execute(
            sql.SQL("set local lock_timeout = {}").format(sql.Literal(DETACH_LOCK_TIMEOUT))
        )
        for schema in (MARTS_SCHEMA, BUILD_SCHEMA):
            for table in MARTS:
                part = partitions(conn, schema, table).get(school_year)
                if part is not None:
                    done.append(_archive(conn, table, part, to_dir))
        for moved in done:
            if moved.table.startswith(f"{MARTS_SCHEMA}."):
                conn.execute(
                    "insert into ops.archived_school_years"
                    " (table_name, school_year, archived_to, row_count) values (%s, %s, %s, %s)"
                    " on conflict (table_name, school_year) do update set"
                    " archived_at = now(), archived_to = excluded.archived_to,"
                    " row_count = ops.archived_school_years.row_count + excluded.row_count",
                    (moved.table, school_year, moved.archived_to, moved.rows),
                )
    return done


def _archive(
    conn: psycopg.Connection, table: str, part: Partition, to_dir: Path | None
) -> ArchivedPartition:
    parent = sql.Identifier(part.schema, table)
    conn.execute(sql.SQL("alter table {} detach partition {}").format(parent, part.ident))
    rows = conn.execute(sql.SQL("select count(*) from {}").format(part.ident)).fetchone()[0]
    if to_dir is not None:
        to_dir.mkdir(parents=True, exist_ok=True)
        target = to_dir / f"{part.schema}.{part.name}.csv.gz"
        copy = sql.SQL("copy {} to stdout with (format csv, header)").format(part.ident)
        with gzip.open(target, "wb") as out, conn.cursor().copy(copy) as data:
            for chunk in data:
                out.write(chunk)
        conn.execute(sql.SQL("drop table {}").format(part.ident))
        return ArchivedPartition(f"{part.schema}.{table}", part.name, rows, str(target))
    kept = f"{part.schema}_{part.name}"
    conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(ARCHIVE_SCHEMA)))
    conn.execute(sql.SQL("alter table {} rename to {}").format(part.ident, sql.Identifier(kept)))
    conn.execute(
        sql.SQL("alter table {} set schema {}").format(
            sql.Identifier(part.schema, kept), sql.Identifier(ARCHIVE_SCHEMA)
        )
    )
    return ArchivedPartition(f"{part.schema}.{table}", part.name, rows, f"{ARCHIVE_SCHEMA}.{kept}")
