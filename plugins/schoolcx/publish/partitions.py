"""The school-year partitions of the big facts, read from the catalog.

dbt builds the facts as `partition by range (local_date)` parents with one partition per school
year, named <table>_y<year> (dbt_project/macros/partitioned.sql). Publishing mirrors those
partitions into `marts` and refills them one by one; archiving detaches one year's. Everything
here goes by the catalog (pg_inherits, the partition bounds), not by names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg
from psycopg import sql

# the school year a partition holds: its upper bound is 1 July of the year it is named by
_BOUND_YEAR = re.compile(r"TO \('(\d{4})-07-01'\)")


@dataclass(frozen=True)
class Partition:
    schema: str
    name: str
    school_year: int  # named by its end year (METRICS.md "Periods")
    bound: str  # FOR VALUES FROM (...) TO (...), as the catalog prints it

    @property
    def ident(self) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(self.name))


def parse_school_year(text: str) -> int:
    """'2024-25' or '2025' -> 2025 (a school year is named by its end year)."""
    match = re.fullmatch(r"(\d{4})(?:[-/](\d{2}|\d{4}))?", text.strip())
    if not match:
        raise ValueError(f"not a school year: {text!r} (e.g. 2024-25 or 2025)")
    start, end = match.groups()
    if end is None:
        return int(start)
    year = int(start) + 1
    if not str(year).endswith(end):
        raise ValueError(f"not a school year: {text!r} ({start} is followed by {year})")
    return year


def partition_key(conn: psycopg.Connection, schema: str, table: str) -> str | None:
    """The partition key of a partitioned table ('RANGE (local_date)'); None for a plain one."""
    row = conn.execute(
        "select pg_get_partkeydef(p.partrelid) from pg_partitioned_table as p"
        " where p.partrelid = to_regclass(%s)",
        (f"{schema}.{table}",),
    ).fetchone()
    return row[0] if row else None


def partitions(conn: psycopg.Connection, schema: str, table: str) -> dict[int, Partition]:
    """The partitions of schema.table by school year (none for a plain or missing table)."""
    found: dict[int, Partition] = {}
    for name, bound in conn.execute(
        "select child.relname, pg_get_expr(child.relpartbound, child.oid)"
        " from pg_inherits as inh join pg_class as child on inh.inhrelid = child.oid"
        " where inh.inhparent = to_regclass(%s)",
        (f"{schema}.{table}",),
    ):
        year = _BOUND_YEAR.search(bound)
        if not year:
            raise RuntimeError(f"{schema}.{name} is not a school-year partition: {bound}")
        found[int(year.group(1))] = Partition(schema, name, int(year.group(1)), bound)
    return found


def create_partitions_like(
    conn: psycopg.Connection, source: dict[int, Partition], schema: str, parent: str
) -> dict[int, Partition]:
    """Give schema.parent a partition for each year of `source` it lacks (same bounds), named
    <parent>_y<year>; returns the parent's partitions."""
    have = partitions(conn, schema, parent)
    for year, part in sorted(source.items()):
        if year not in have:
            conn.execute(
                sql.SQL("create table {} partition of {} {}").format(
                    sql.Identifier(schema, f"{parent}_y{year}"),
                    sql.Identifier(schema, parent),
                    sql.SQL(part.bound),
                )
            )
    return partitions(conn, schema, parent)


def name_partitions(conn: psycopg.Connection, schema: str, parent: str) -> None:
    """Rename each partition of schema.parent to <parent>_y<year> (after a rename swap)."""
    for year, part in partitions(conn, schema, parent).items():
        wanted = f"{parent}_y{year}"
        if part.name != wanted:
            conn.execute(
                sql.SQL("alter table {} rename to {}").format(part.ident, sql.Identifier(wanted))
            )
