"""Detect a change of the reference data (ref.*) since the last successful dbt build.

The incremental facts (fct_interactions, fct_ratings, fct_daily_volume) recompute only rows
whose records were loaded since their watermark (macros/incremental.sql). A config change synced
into ref.* (a new closure or snow day, service hours, SLA targets, enrollment, high-risk terms,
unit mappings, mail domains, survey options, ...) would leave their older rows computed with the
old calendar and targets, and the facts would differ from a full refresh. So after refsync,
prepare fingerprints ref.* and compares it with the fingerprint recorded by the last successful
build (ops.ref_fingerprints, migration 0006); when they differ, the night's dbt build runs with
--full-refresh. The fingerprint is recorded only after the dbt build succeeded, so a failed night
retries the full refresh the next night.

The dbt code (models, macros, dbt_project.yml) is fingerprinted beside ref.*, as one more entry
(CODE_ENTRY): incremental models keep rows computed by the code of earlier nights, so the first
night after an upgrade of the models rebuilds everything with the new code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging

import psycopg
from psycopg import sql

from schoolcx.paths import DBT_PROJECT_DIR
from schoolcx.refsync import REF_TABLES

log = logging.getLogger(__name__)

BUILD_SCHEMA = "build"
# The incremental models: only they keep rows from earlier builds.
INCREMENTAL_FACTS = ("fct_interactions", "fct_ratings", "fct_daily_volume")
CODE_ENTRY = "dbt_project"  # the fingerprint entry of the dbt code, beside the ref tables
CODE_PATHS = ("models", "macros", "dbt_project.yml")


def code_fingerprint(project_dir=DBT_PROJECT_DIR) -> str:
    """md5 over the dbt code that computes the tables (relative path and bytes of each file,
    in path order): SQL, YAML (docs, tests, configs) and the project file."""
    digest = hashlib.md5(usedforsecurity=False)
    files = []
    for name in CODE_PATHS:
        path = project_dir / name
        files += sorted(path.rglob("*")) if path.is_dir() else [path]
    for path in files:
        if path.is_file():
            digest.update(path.relative_to(project_dir).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class RefFingerprint:
    fingerprint: str  # md5 over the per-table fingerprints
    tables: dict[str, str]  # ref table (and CODE_ENTRY) -> md5 of its rows (its code)

    def to_dict(self) -> dict:
        return {"fingerprint": self.fingerprint, "tables": dict(self.tables)}

    @classmethod
    def from_dict(cls, data: dict) -> RefFingerprint:
        return cls(data["fingerprint"], dict(data["tables"]))


@dataclasses.dataclass(frozen=True)
class RefreshDecision:
    full_refresh: bool
    reason: str
    changed_tables: tuple[str, ...]
    current: RefFingerprint

    def to_dict(self) -> dict:
        return {
            "full_refresh": self.full_refresh,
            "reason": self.reason,
            "changed_tables": list(self.changed_tables),
            **self.current.to_dict(),
        }


def _connect(url_or_conn):
    if isinstance(url_or_conn, psycopg.Connection):
        return url_or_conn, False
    return psycopg.connect(url_or_conn), True


def _fingerprint_query() -> sql.Composed:
    # One statement, so one snapshot: every table as of the same moment. Each table's rows are
    # rendered as record text and ordered bytewise (collation "C"), so the md5 depends only on
    # the contents, not on insertion order or the database's collation.
    per_table = sql.SQL(" union all ").join(
        sql.SQL(
            "select {name}::text as table_name,"
            " md5(coalesce(string_agg(t::text, E'\\n' order by t::text collate \"C\"), ''))"
            " as digest from {table} as t"
        ).format(name=sql.Literal(table), table=sql.Identifier("ref", table))
        for table in REF_TABLES
    )
    return sql.SQL("select table_name, digest from ({per_table}) as per_table").format(
        per_table=per_table
    )


def ref_fingerprint(url_or_conn) -> RefFingerprint:
    """The fingerprint of the contents of every ref.* table dbt reads (computed in SQL) and of
    the dbt code (CODE_ENTRY)."""
    conn, own = _connect(url_or_conn)
    try:
        with conn.transaction():
            # Output formats that could vary with session settings are pinned.
            conn.execute("set local datestyle = 'ISO, YMD'")
            conn.execute("set local intervalstyle = 'postgres'")
            rows = conn.execute(_fingerprint_query()).fetchall()
    finally:
        if own:
            conn.close()
    tables = dict(rows)
    tables[CODE_ENTRY] = code_fingerprint()
    total = hashlib.md5(
        "\n".join(f"{name}:{tables[name]}" for name in sorted(tables)).encode(),
        usedforsecurity=False,
    )
    return RefFingerprint(total.hexdigest(), tables)


def last_recorded(url_or_conn) -> RefFingerprint | None:
    """The fingerprint recorded by the latest successful build, if any."""
    conn, own = _connect(url_or_conn)
    try:
        row = conn.execute(
            "select fingerprint, table_fingerprints from ops.ref_fingerprints"
            " order by recorded_at desc, fingerprint_id desc limit 1"
        ).fetchone()
    finally:
        if own:
            conn.close()
    return RefFingerprint(row[0], dict(row[1])) if row else None


def existing_facts(url_or_conn, schema: str = BUILD_SCHEMA) -> list[str]:
    """The incremental fact tables that already exist in the build schema."""
    conn, own = _connect(url_or_conn)
    try:
        rows = conn.execute(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = %s and c.relname = any(%s) and c.relkind in ('r', 'p')"
            " order by c.relname",
            (schema, list(INCREMENTAL_FACTS)),
        ).fetchall()
    finally:
        if own:
            conn.close()
    return [r[0] for r in rows]


def decide_full_refresh(url_or_conn, requested: bool = False) -> RefreshDecision:
    """Whether tonight's dbt build must be a full refresh, and why.

    A full refresh when it was requested (the DAG param / `schoolcx run --full-refresh`), when
    the reference data differs from what the last successful build used, or when no build was
    recorded yet but the build schema already holds incremental facts (built before this
    bookkeeping existed, from unknown reference data).
    """
    current = ref_fingerprint(url_or_conn)
    last = last_recorded(url_or_conn)
    changed: tuple[str, ...] = ()
    if last is None:
        facts = existing_facts(url_or_conn)
        if facts:
            full, reason = (
                True,
                (
                    f"no reference fingerprint recorded for the existing build "
                    f"({', '.join(facts)}): full refresh tonight"
                ),
            )
        else:
            full, reason = False, "first build: no incremental facts yet"
    elif last.fingerprint != current.fingerprint:
        names = set(current.tables) | set(last.tables)
        changed = tuple(sorted(t for t in names if current.tables.get(t) != last.tables.get(t)))
        full, reason = (
            True,
            (
                f"reference data changed since the last build (tables: {', '.join(changed)}): "
                "full refresh tonight"
            ),
        )
    else:
        full, reason = False, "reference data unchanged since the last build"
    if requested and not full:
        full, reason = True, f"full refresh requested ({reason})"
    elif requested:
        reason = f"full refresh requested; {reason}"
    return RefreshDecision(full, reason, changed, current)


def record_build(url_or_conn, run_id: str, decision: dict) -> None:
    """Record the fingerprint a successful build used (decision: RefreshDecision.to_dict())."""
    conn, own = _connect(url_or_conn)
    try:
        with conn.transaction():
            conn.execute(
                "insert into ops.ref_fingerprints"
                " (run_id, fingerprint, table_fingerprints, full_refresh, reason)"
                " values (%s, %s, %s::jsonb, %s, %s)",
                (
                    run_id,
                    decision["fingerprint"],
                    json.dumps(decision["tables"], sort_keys=True),
                    bool(decision["full_refresh"]),
                    decision["reason"],
                ),
            )
    finally:
        if own:
            conn.close()
