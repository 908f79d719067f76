"""The nightly run and an intraday cycle (schoolcx.intraday) never run at the same time.

One PostgreSQL advisory lock (PIPELINE_LOCK) orders the two: an intraday cycle holds it for its
whole run (one process, one session); the nightly cannot, because its steps are separate
Airflow tasks, so its first step takes a lease (ops.pipeline_leases) under the same lock and
its last step (trigger_rule all_done) ends it. Hence:

- a nightly that starts while a cycle runs **waits** for the lock (up to `wait_seconds`), then
  takes the lease;
- a cycle that starts while the nightly holds the lease **skips**, saying which run holds it;
  a cycle that finds another cycle holding the lock skips too (the next one is 15 minutes on).

The lease expires after the nightly's run timeout, so a run killed without ending it does not
stop the intraday path for good. Works outside Airflow too (CLI runs, another scheduler).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

log = logging.getLogger(__name__)

PIPELINE_LOCK = 0x5C0C_1D7  # advisory lock key (not publish's PUBLISH_LOCK: a different scope)
NIGHTLY = "nightly"


class PipelineBusy(RuntimeError):
    """The nightly waited for an intraday cycle longer than it may."""


@dataclass(frozen=True)
class Lease:
    run_id: str
    acquired_at: dt.datetime
    expires_at: dt.datetime


def begin_nightly(url: str, run_id: str, ttl: dt.timedelta, wait_seconds: float = 900) -> None:
    """Take the nightly lease; wait while an intraday cycle holds the pipeline lock."""
    deadline = time.monotonic() + wait_seconds
    said = False
    with psycopg.connect(url, autocommit=True) as conn:
        while not conn.execute("select pg_try_advisory_lock(%s)", (PIPELINE_LOCK,)).fetchone()[0]:
            if not said:
                log.warning(
                    "nightly run %s waits: an intraday cycle holds the pipeline lock", run_id
                )
                said = True
            if time.monotonic() > deadline:
                raise PipelineBusy(
                    f"nightly run {run_id}: an intraday cycle held the pipeline lock for more "
                    f"than {wait_seconds:.0f}s"
                )
            time.sleep(1)
        try:
            conn.execute(
                "insert into ops.pipeline_leases (holder, run_id, acquired_at, expires_at)"
                " values (%s, %s, now(), now() + %s)"
                " on conflict (holder) do update set run_id = excluded.run_id,"
                " acquired_at = excluded.acquired_at, expires_at = excluded.expires_at",
                (NIGHTLY, run_id, ttl),
            )
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (PIPELINE_LOCK,))
    log.info("nightly run %s holds the pipeline lease (expires in %s)", run_id, ttl)


def end_nightly(url: str, run_id: str) -> None:
    """End this run's lease (a newer run's lease is not this run's to end)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "delete from ops.pipeline_leases where holder = %s and run_id = %s", (NIGHTLY, run_id)
        )


def nightly_lease(conn: psycopg.Connection) -> Lease | None:
    """The unexpired nightly lease, if any."""
    row = conn.execute(
        "select run_id, acquired_at, expires_at from ops.pipeline_leases"
        " where holder = %s and expires_at > now()",
        (NIGHTLY,),
    ).fetchone()
    return Lease(*row) if row else None


@contextmanager
def intraday_turn(url: str):
    """Hold the pipeline lock for one cycle; yields None, or why the cycle must skip."""
    with psycopg.connect(url, autocommit=True) as conn:
        if not conn.execute("select pg_try_advisory_lock(%s)", (PIPELINE_LOCK,)).fetchone()[0]:
            yield "skipped: another intraday cycle (or the nightly's start) holds the pipeline lock"
            return
        try:
            lease = nightly_lease(conn)
            if lease is not None:
                yield (
                    f"skipped: the nightly run {lease.run_id} is running (since "
                    f"{lease.acquired_at:%Y-%m-%d %H:%M} UTC); intraday cycles wait for it to end"
                )
            else:
                yield None
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (PIPELINE_LOCK,))
