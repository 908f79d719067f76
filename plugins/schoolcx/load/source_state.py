"""Re-extract one source from a date: clear its saved extract state, remember where to start.

Loading is idempotent (raw's primary key skips a record version already landed; quarantine
has a natural key), so re-reading a source from an earlier date only fills what is missing,
and every other source keeps its state.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg


@dataclass(frozen=True)
class ResetResult:
    source_instance: str
    streams_cleared: list[str]
    from_date: dt.date | None


def reset_source(url: str, source_instance: str, from_date: dt.date | None) -> ResetResult:
    """Clear `source_instance`'s extract state; its next extract starts at `from_date` (None:
    the configured start_date). Idempotent: resetting twice is resetting once."""
    with psycopg.connect(url) as conn:
        streams = _clear_state(conn, source_instance)
        conn.execute(
            "insert into ops.source_resets (source_instance, from_date) values (%s, %s)"
            " on conflict (source_instance) do update"
            " set from_date = excluded.from_date, reset_at = now()",
            (source_instance, from_date),
        )
    return ResetResult(source_instance, sorted(streams), from_date)


def _clear_state(conn: psycopg.Connection, source_instance: str) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "delete from ops.extract_state where source_instance = %s returning stream",
            (source_instance,),
        )
    ]


def start_over_if_reset(url: str, source_instance: str) -> PendingReset | None:
    """The reset pending for the source, with any state saved since cleared again: an extract
    that was running when the reset was made went on saving its own state, which would make
    the next extract resume from there instead of from the reset's date. (A post-reset extract
    that crashed half-way is re-read from the date too: loading is idempotent.)"""
    pending = pending_reset(url, source_instance)
    if pending is not None:
        with psycopg.connect(url) as conn:
            _clear_state(conn, source_instance)
    return pending


@dataclass(frozen=True)
class PendingReset:
    from_date: dt.date | None  # None: the configured start_date
    reset_at: dt.datetime


def pending_reset(url: str, source_instance: str) -> PendingReset | None:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select from_date, reset_at from ops.source_resets where source_instance = %s",
            (source_instance,),
        ).fetchone()
    return PendingReset(*row) if row else None


def finish_reset(url: str, source_instance: str, pending: PendingReset) -> None:
    """An extract after the reset succeeded: its saved state now says where to go on. A reset
    made while it ran (a later reset_at) stays pending."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "delete from ops.source_resets where source_instance = %s and reset_at = %s",
            (source_instance, pending.reset_at),
        )
