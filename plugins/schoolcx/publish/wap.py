"""Write-audit-publish: make the validated `build` marts the published `marts`, atomically.

Everything happens in ONE transaction, so a reader sees the last published night or the new
one, never a mix, a missing table or a half-filled one:

- a mart whose published table has the same columns (the normal night) is refilled in place:
  DELETE then INSERT ... SELECT from build. This is fully MVCC-safe: readers are never blocked
  and never wait, and even a REPEATABLE READ reader that started before the publish keeps
  seeing the old night in every mart. (Creating a new table and renaming it over the old one
  is not: a snapshot taken before the swap sees the new table empty.)
- a mart that is new, or whose columns changed (a dbt contract change), is created from build
  under a temporary name and renamed over the old one; its grants, RLS and policies are
  applied before the commit.

A fact partitioned by school year in build (dbt_project/macros/partitioned.sql) is published
partitioned the same way: a normal night refills it partition by partition (a new year's
partition made first); a year marts holds and build lacks stays published (only
`schoolcx warehouse archive-year` removes one, and a year archived is not published again).
Readers read the parent, where the mart's RLS policies apply; partitions have no grants.

`build` keeps its tables: facts there are incremental. Dead tuples left by the DELETE are
autovacuum's; the published tables are analysed after the commit.

Publishing never moves `marts` backwards: a run whose as-of date is older than the one
published (a backfill of an old interval, a rerun of an old night) leaves `marts` as they are
and logs "skipped: ..." unless asked explicitly (`republish`, `schoolcx run --republish`). Its
raw data, build and gate result still land; only the published marts stay on the newer night.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import psycopg
from psycopg import sql

from schoolcx.config import DeploymentConfig
from schoolcx.publish.checksum import combine, relation_checksum
from schoolcx.publish.partitions import (
    Partition,
    create_partitions_like,
    name_partitions,
    partition_key,
    partitions,
)
from schoolcx.publish.relations import BUILD_SCHEMA, MARTS, MARTS_SCHEMA
from schoolcx.publish.roles import apply_mart_access
from schoolcx.quality.result import GateResult

log = logging.getLogger(__name__)

PUBLISH_LOCK = 0x5C0C_0B1  # advisory lock key: one publish at a time per database
# Only a schema change needs an ACCESS EXCLUSIVE lock (rename over the old table). Waiting
# for it behind a long BI query would queue every other reader behind us; fail instead (the
# task retries) after this long.
SWAP_LOCK_TIMEOUT = "30s"


@dataclass(frozen=True)
class PublishResult:
    run_id: str
    published: bool
    gate_passed: bool
    row_counts: dict[str, int] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    checksum: str | None = None
    blocked_by: list[str] = field(default_factory=list)  # failed critical expectations
    recreated: list[str] = field(default_factory=list)  # marts created or re-created
    as_of: str | None = None  # ISO date this run reports as of
    skipped: str | None = None  # why a passing run did not publish (newer marts published)

    def to_dict(self) -> dict:
        return asdict(self)


class GateBlocked(RuntimeError):
    """Raised by callers (see PublishResult.raise_if_blocked) when the gate failed."""


def raise_if_blocked(result: PublishResult) -> PublishResult:
    """Raise when the gate blocked the run; a run skipped for newer marts is not an error."""
    if not result.published and not result.gate_passed:
        raise GateBlocked(
            "quality gate blocked publication; failed expectations: " + ", ".join(result.blocked_by)
        )
    return result


def publish(
    url: str,
    cfg: DeploymentConfig,
    run_id: str,
    data_interval_start: dt.datetime,
    data_interval_end: dt.datetime,
    gate_result: GateResult | dict,
    *,
    as_of: dt.date | None = None,
    republish: bool = False,
    marts: Sequence[str] = MARTS,
) -> PublishResult:
    """Publish `build` into `marts` if the gate passed; log the attempt in ops.publish_log.

    A failed gate changes nothing in `marts`; the result names the failed critical
    expectations (the caller raises, e.g. with raise_if_blocked). A passing run whose `as_of`
    is older than the published marts' changes nothing either, unless `republish`; the result
    says why in `skipped`. `as_of` defaults to the UTC date of the interval's start.
    `marts`: the marts this warehouse publishes (a consortium hub: the benchmark marts only).
    """
    marts = tuple(marts)
    gate = gate_result if isinstance(gate_result, GateResult) else GateResult.from_dict(gate_result)
    as_of = as_of or data_interval_start.astimezone(dt.UTC).date()
    if not gate.passed:
        return record_blocked(url, run_id, gate, data_interval_start, data_interval_end, as_of)

    checksums: dict[str, str] = {}
    counts: dict[str, int] = {}
    recreated: list[str] = []
    with psycopg.connect(url) as conn:
        conn.execute("select pg_advisory_xact_lock(%s)", (PUBLISH_LOCK,))
        # Read under the lock: two runs publishing at once see each other's as-of.
        newer = published_as_of(conn)
        if newer is not None and newer > as_of and not republish:
            reason = f"skipped: published as-of {newer} is newer than this run's {as_of}"
            _log(
                conn,
                run_id,
                data_interval_start,
                data_interval_end,
                as_of,
                published=False,
                gate_passed=True,
                counts={},
                checksum=None,
                detail=json.dumps({"skipped": reason, "republish": False}),
            )
            log.warning("run %s not published: %s (republish to replace)", run_id, reason)
            return PublishResult(
                run_id=run_id,
                published=False,
                gate_passed=True,
                as_of=as_of.isoformat(),
                skipped=reason,
            )
        for mart in marts:
            if _replace(conn, mart):
                recreated.append(mart)
            apply_mart_access(conn, mart)
        # Checksums of what readers will see, computed inside the publishing transaction.
        for mart in marts:
            counts[mart], checksums[mart] = relation_checksum(conn, MARTS_SCHEMA, mart)
        total = combine(checksums)
        _log(
            conn,
            run_id,
            data_interval_start,
            data_interval_end,
            as_of,
            published=True,
            gate_passed=True,
            counts=counts,
            checksum=total,
            detail=json.dumps(
                {
                    "checksums": checksums,
                    "recreated": recreated,
                    "warnings": [o.name for o in gate.warnings],
                    # replaced newer marts on purpose
                    "republish": bool(republish and newer is not None and newer > as_of),
                }
            ),
        )
    _analyze(url, marts)
    log.info("published run %s: %s", run_id, counts)
    return PublishResult(
        run_id=run_id,
        published=True,
        gate_passed=True,
        row_counts=counts,
        checksums=checksums,
        checksum=total,
        recreated=recreated,
        as_of=as_of.isoformat(),
    )


def published_as_of(conn: psycopg.Connection) -> dt.date | None:
    """The as-of date of what `marts` shows now: the last successful publish's."""
    row = conn.execute(
        "select as_of_date from ops.publish_log where published order by logged_at desc limit 1"
    ).fetchone()
    return row[0] if row else None


def record_blocked(
    url: str,
    run_id: str,
    gate_result: GateResult,
    data_interval_start: dt.datetime | None = None,
    data_interval_end: dt.datetime | None = None,
    as_of: dt.date | None = None,
) -> PublishResult:
    """Log a publish attempt that the gate blocked; `marts` is not touched."""
    blocked = [o.name for o in gate_result.critical_failures]
    detail = json.dumps(
        {
            "blocked_by": [
                {"expectation": o.name, "relation": o.relation, "observed_value": o.observed_value}
                for o in gate_result.critical_failures
            ]
        }
    )
    with psycopg.connect(url) as conn:
        _log(
            conn,
            run_id,
            data_interval_start,
            data_interval_end,
            as_of,
            published=False,
            gate_passed=False,
            counts={},
            checksum=None,
            detail=detail,
        )
    log.warning("run %s not published; gate failed: %s", run_id, ", ".join(blocked))
    return PublishResult(
        run_id=run_id,
        published=False,
        gate_passed=False,
        blocked_by=blocked,
        as_of=as_of.isoformat() if as_of else None,
    )


def _columns(conn: psycopg.Connection, schema: str, table: str) -> list[tuple[str, str]]:
    return [
        tuple(r)
        for r in conn.execute(
            "select attname, format_type(atttypid, atttypmod) from pg_attribute"
            " where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped order by attnum",
            (f"{schema}.{table}",),
        )
    ]


def _replace(conn: psycopg.Connection, mart: str, build_schema: str = BUILD_SCHEMA) -> bool:
    """Put <build_schema>.<mart>'s rows into marts.<mart>; True when the table was (re)created.
    (The intraday path publishes today_status from its own schema, build_intraday.)"""
    src = sql.SQL("{}.{}").format(sql.Identifier(build_schema), sql.Identifier(mart))
    dst = sql.SQL("{}.{}").format(sql.Identifier(MARTS_SCHEMA), sql.Identifier(mart))
    build_cols = _columns(conn, build_schema, mart)
    if not build_cols:
        raise RuntimeError(f"{build_schema}.{mart} does not exist; nothing was published")
    published_cols = _columns(conn, MARTS_SCHEMA, mart)
    key = partition_key(conn, build_schema, mart)
    if published_cols == build_cols and partition_key(conn, MARTS_SCHEMA, mart) == key:
        if key:
            _refill_partitions(conn, build_schema, mart)
            return False
        conn.execute(sql.SQL("delete from {}").format(dst))
        conn.execute(sql.SQL("insert into {} select * from {}").format(dst, src))
        return False
    staging = f"{mart}__publishing"
    tmp = sql.SQL("{}.{}").format(sql.Identifier(MARTS_SCHEMA), sql.Identifier(staging))
    conn.execute(sql.SQL("drop table if exists {}").format(tmp))
    # LIKE ... INCLUDING ALL keeps dbt's contract constraints and indexes (on a partitioned
    # table: partitioned indexes, which every partition gets)
    conn.execute(
        sql.SQL("create table {} (like {} including all) {}").format(
            tmp, src, sql.SQL(f"partition by {key}" if key else "")
        )
    )
    publishable = _publishable(conn, build_schema, mart) if key else {}
    if key:
        lost = set(partitions(conn, MARTS_SCHEMA, mart)) - set(publishable)
        if lost:
            # a re-created mart holds what build has: a year only marts has would vanish
            raise RuntimeError(
                f"marts.{mart} holds school years {sorted(lost)} that {build_schema} lacks;"
                " archive them first (schoolcx warehouse archive-year)"
            )
        create_partitions_like(conn, publishable, MARTS_SCHEMA, staging)
    rows = _rows_to_publish(src, publishable) if key else src
    conn.execute(sql.SQL("insert into {} select * from {}").format(tmp, rows))
    apply_mart_access(conn, staging)
    if published_cols:
        conn.execute(sql.SQL("set local lock_timeout = {}").format(sql.Literal(SWAP_LOCK_TIMEOUT)))
        # no CASCADE: a view someone built on the mart must fail the publish, not vanish
        conn.execute(sql.SQL("drop table {}").format(dst))
    conn.execute(sql.SQL("alter table {} rename to {}").format(tmp, sql.Identifier(mart)))
    if key:
        name_partitions(conn, MARTS_SCHEMA, mart)
    return True


def _publishable(conn: psycopg.Connection, build_schema: str, mart: str) -> dict[int, Partition]:
    """build's school-year partitions of a fact, less the years archived from marts (a full
    refresh of build recomputes an archived year from raw; archiving is explicit)."""
    archived = {
        r[0]
        for r in conn.execute(
            "select school_year from ops.archived_school_years where table_name = %s",
            (f"{MARTS_SCHEMA}.{mart}",),
        )
    }
    built = partitions(conn, build_schema, mart)
    return {year: part for year, part in built.items() if year not in archived}


def _rows_to_publish(src: sql.Composable, publishable: dict[int, Partition]) -> sql.Composable:
    """The rows of build's publishable partitions (of parent `src`), as a FROM item."""
    parts = publishable.values()
    if not parts:
        return sql.SQL("{} where false").format(src)
    return sql.SQL("({}) as publishable").format(
        sql.SQL(" union all ").join(sql.SQL("select * from {}").format(p.ident) for p in parts)
    )


def _refill_partitions(conn: psycopg.Connection, build_schema: str, mart: str) -> None:
    """Refill a partitioned mart year by year from build's partitions (made in marts when
    new). A year marts has and build lacks stays as published: only archive-year removes one."""
    source = _publishable(conn, build_schema, mart)
    published = create_partitions_like(conn, source, MARTS_SCHEMA, mart)
    for year, part in sorted(source.items()):
        conn.execute(sql.SQL("delete from {}").format(published[year].ident))
        conn.execute(
            sql.SQL("insert into {} select * from {}").format(published[year].ident, part.ident)
        )


def _log(
    conn: psycopg.Connection,
    run_id: str,
    start: dt.datetime | None,
    end: dt.datetime | None,
    as_of: dt.date | None,
    *,
    published: bool,
    gate_passed: bool,
    counts: dict[str, int],
    checksum: str | None,
    detail: str,
) -> None:
    conn.execute(
        "insert into ops.publish_log (run_id, data_interval_start, data_interval_end,"
        " as_of_date, published, gate_passed, row_counts, checksum, detail)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (run_id, start, end, as_of, published, gate_passed, json.dumps(counts), checksum, detail),
    )


def _analyze(url: str, marts: Sequence[str]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for mart in marts:
            conn.execute(
                sql.SQL("analyze {}.{}").format(sql.Identifier(MARTS_SCHEMA), sql.Identifier(mart))
            )
