"""`schoolcx quarantine`: what was set aside, where, why, and how many.

Two places hold records that did not become facts:
- quarantine.records: what the loader refused (a record breaking the landing contract), one
  row per record and reason (migration 0011's natural key);
- the transform's rejects, when dbt has built them (schema `int`): interactions that break
  the metric contract (int_interactions_rejected) and ratings that cannot count
  (int_ratings_normalised where reject_reason is not null).
Both are grouped by source and reason; `--source` and `--since` filter them.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

import psycopg
from psycopg import sql


@dataclass(frozen=True)
class QuarantineGroup:
    stage: str  # "load" (quarantine.records) or the dbt model that rejected
    source_instance: str
    stream: str | None
    reason: str
    records: int
    first_seen: dt.datetime | None
    last_seen: dt.datetime | None
    example: str | None  # one record id (or field) to start looking from


# relation in schema int -> (stream label, record id column, "seen at" column); the columns
# are used only when the relation has them (other slices may reshape these models).
TRANSFORM_REJECTS = {
    "int_interactions_rejected": ("interactions", "source_id", "last_loaded_at"),
    "int_ratings_normalised": ("ratings", "rating_id", "rating_loaded_at"),
}


def _since_ts(since: dt.date | None) -> dt.datetime | None:
    return dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC) if since else None


def loader_groups(
    conn: psycopg.Connection, source: str | None, since: dt.date | None
) -> list[QuarantineGroup]:
    rows = conn.execute(
        "select source_instance, stream, reason, count(*), min(quarantined_at),"
        " max(quarantined_at), min(coalesce(record_id, source_position, field))"
        " from quarantine.records"
        " where (%(source)s::text is null or source_instance = %(source)s)"
        " and (%(since)s::timestamptz is null or quarantined_at >= %(since)s)"
        " group by source_instance, stream, reason order by source_instance, stream, reason",
        {"source": source, "since": _since_ts(since)},
    ).fetchall()
    return [QuarantineGroup("load", *r) for r in rows]


def _columns(conn: psycopg.Connection, relation: str) -> set[str]:
    return {
        r[0]
        for r in conn.execute(
            "select column_name from information_schema.columns"
            " where table_schema = 'int' and table_name = %s",
            (relation,),
        )
    }


def transform_groups(
    conn: psycopg.Connection, source: str | None, since: dt.date | None
) -> list[QuarantineGroup]:
    out: list[QuarantineGroup] = []
    for relation, (stream, id_col, seen_col) in TRANSFORM_REJECTS.items():
        cols = _columns(conn, relation)
        if not {"source_instance", "reject_reason"} <= cols:
            continue  # not built yet (or reshaped): nothing to report from it
        seen = sql.Identifier(seen_col) if seen_col in cols else sql.SQL("null::timestamptz")
        example = sql.Identifier(id_col) if id_col in cols else sql.SQL("null::text")
        where = [sql.SQL("reject_reason is not null")]
        if "is_latest" in cols:  # one row per rating, its latest version
            where.append(sql.SQL("is_latest"))
        if source:
            where.append(sql.SQL("source_instance = {}").format(sql.Literal(source)))
        if since and seen_col in cols:
            where.append(sql.SQL("{} >= {}").format(seen, sql.Literal(_since_ts(since))))
        query = sql.SQL(
            "select source_instance, reject_reason, count(*), min({seen}), max({seen}),"
            " min({example}::text) from {rel} where {where}"
            " group by source_instance, reject_reason order by source_instance, reject_reason"
        ).format(
            seen=seen,
            example=example,
            rel=sql.Identifier("int", relation),
            where=sql.SQL(" and ").join(where),
        )
        for src, reason, n, first, last, ex in conn.execute(query):
            out.append(QuarantineGroup(relation, src, stream, reason, n, first, last, ex))
    return out


def quarantine_report(
    url: str, source: str | None = None, since: dt.date | None = None
) -> list[QuarantineGroup]:
    with psycopg.connect(url) as conn:
        return loader_groups(conn, source, since) + transform_groups(conn, source, since)


def _day(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M") if value else "-"


def format_report(groups: list[QuarantineGroup]) -> str:
    """The groups as a table, then the totals per reason."""
    if not groups:
        return "nothing quarantined"
    header = (
        f"{'stage':<26} {'source':<24} {'stream':<14} {'reason':<34} {'records':>8}  "
        f"{'first seen (UTC)':<16}  {'last seen (UTC)':<16}  example"
    )
    lines = [header, "-" * len(header)]
    for g in groups:
        lines.append(
            f"{g.stage:<26} {g.source_instance:<24} {g.stream or '-':<14} {g.reason:<34} "
            f"{g.records:>8}  {_day(g.first_seen):<16}  {_day(g.last_seen):<16}  "
            f"{g.example or '-'}"
        )
    per_reason: Counter = Counter()
    for g in groups:
        per_reason[g.reason] += g.records
    lines += ["", "per reason:"]
    lines += [f"  {reason:<40} {n:>8}" for reason, n in sorted(per_reason.items())]
    lines.append(f"  {'total':<40} {sum(per_reason.values()):>8}")
    return "\n".join(lines)
