"""Versioned, idempotent migrations for the project's own tables.

Each file in migrations/ runs once, in name order, inside one transaction with its record in
ops.schema_migrations; an advisory lock keeps two concurrent runs from racing.
"""

from __future__ import annotations

from importlib import resources

import psycopg

MIGRATION_LOCK = 0x5C0C  # arbitrary, project-wide advisory lock key


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files("schoolcx.warehouse") / "migrations"
    files = sorted(p for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(p.name, p.read_text()) for p in files]


def migrate(url: str) -> list[str]:
    """Apply pending migrations; returns the names applied now."""
    applied_now: list[str] = []
    with psycopg.connect(url) as conn:
        conn.execute("select pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute("create schema if not exists ops")
        conn.execute(
            "create table if not exists ops.schema_migrations ("
            " version text primary key, applied_at timestamptz not null default now())"
        )
        done = {r[0] for r in conn.execute("select version from ops.schema_migrations")}
        for name, sql in migration_files():
            if name in done:
                continue
            conn.execute(sql)
            conn.execute("insert into ops.schema_migrations (version) values (%s)", (name,))
            applied_now.append(name)
    return applied_now
