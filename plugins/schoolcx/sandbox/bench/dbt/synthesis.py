"""The synthesiser: plans one scale's tickets in bench_gen.* and lands them into raw.*."""

from __future__ import annotations

import datetime as dt
import sys
import time
import uuid
from contextlib import contextmanager

import psycopg

from schoolcx.config import DeploymentConfig
from schoolcx.sandbox.bench.dbt.landing import (
    RAW_TABLES,
    _drop_raw_indexes,
    _restore_raw_indexes,
    create_scratch,
    land_dimensions,
    landing_sql,
    pack_landed,
    record_runs,
)
from schoolcx.sandbox.bench.dbt.planning import plan_sql
from schoolcx.sandbox.bench.dbt.scales import Scale, _slug, n_schools
from schoolcx.sandbox.bench.dbt.sqlparts import _night_end

PARTS = 2  # sessions that generate and land in parallel (this machine has 2 cores)
# Tickets a chunk of the history lands at once: the scratch table of whole records holds one
# chunk (a year of M in one go held 25 GB of ticket versions beside raw; DECISIONLOG "A year of
# M, tried").
CHUNK_TICKETS = 1_000_000


class Synthesiser:
    """Plans one scale's tickets in bench_gen.* and lands windows of them into raw.*."""

    def __init__(self, url: str, scale: Scale, cfg: DeploymentConfig, out=sys.stdout):
        self.url, self.scale, self.cfg, self.out = url, scale, cfg, out
        self.cut_history = dt.datetime.combine(scale.night_day, dt.time(8), tzinfo=dt.UTC)
        self.cut_night = self.cut_history + dt.timedelta(days=1)

    def _say(self, msg: str) -> None:
        print(f"  [{self.scale.name}] {msg}", file=self.out, flush=True)

    @contextmanager
    def _session(self):
        with psycopg.connect(self.url) as conn:
            conn.execute("set max_parallel_workers_per_gather = 0")  # random() stays seeded
            conn.execute("set work_mem = '256MB'")
            yield conn

    def plan(self) -> int:
        """bench_gen.{districts,calendar,days,plan}; returns the number of tickets planned."""
        s = self.scale
        with self._session() as conn:
            conn.execute("drop schema if exists bench_gen cascade")
            conn.execute("create schema bench_gen")
            conn.execute(
                "create unlogged table bench_gen.districts (district_idx int, district_id text,"
                " source_instance text, name text, timezone text, enrollment int, n_agents int,"
                " n_requesters int, n_schools int, subdomain text, mail_domain text,"
                " student_domain text)"
            )
            with conn.cursor().copy("copy bench_gen.districts from stdin") as copy:
                for i, (spec, d) in enumerate(zip(s.districts, self.cfg.districts, strict=True)):
                    copy.write_row(
                        (
                            i,
                            d.district_id,
                            d.sources[0].name,
                            d.name,
                            d.timezone,
                            spec.enrollment,
                            max(3, spec.enrollment // 100),
                            round(spec.enrollment * 1.3),
                            n_schools(spec),
                            _slug(spec.name),
                            d.mail_domains[0],
                            d.student_domains[0],
                        )
                    )
            conn.execute(
                """
                create unlogged table bench_gen.calendar as
                with days as (
                    select d.district_id, day.local_day::date as local_date,
                        extract(isodow from day.local_day)::int = any(d.service_weekdays)
                            and c.closure_date is null as is_service,
                        (day.local_day::date + d.open_time) at time zone d.timezone as open_at,
                        (day.local_day::date + d.close_time) at time zone d.timezone as close_at
                    from ref.districts as d
                    cross join lateral generate_series(
                        %(lo)s::timestamp, %(hi)s::timestamp, interval '1 day') as day (local_day)
                    left join ref.closures as c
                        on c.district_id = d.district_id and c.closure_date = day.local_day::date
                )
                select days.*, min(days.open_at) filter (where days.is_service) over (
                    partition by days.district_id order by days.local_date
                    rows between 1 following and unbounded following) as next_open_at
                from days
                """,
                {
                    "lo": s.first_day - dt.timedelta(days=7),
                    "hi": s.night_day + dt.timedelta(days=120),
                },
            )
            conn.execute("create unique index on bench_gen.calendar (district_id, local_date)")
            conn.execute("analyze bench_gen.calendar")
            conn.execute("select setseed(%s)", (s.seed,))
            dow = (
                "(array[1.15, 1.05, 1.0, 0.95, 0.85, 1, 1])[extract(isodow from k.local_date)::int]"
            )
            month = (
                "(array[1.05, 0.95, 0.95, 0.95, 0.95, 0.8, 1, 1.25, 1.2, 1.0, 1.0, 0.85])"
                "[extract(month from k.local_date)::int]"
            )
            conn.execute(
                f"""
                create unlogged table bench_gen.days as
                select k.district_id, k.local_date, k.is_service, k.open_at, k.close_at,
                    round(dd.enrollment / 1000.0 * case
                        when k.is_service
                            then %(rate)s * {dow} * {month} * (0.9 + 0.2 * random())
                        else 15 * (0.5 + random())
                    end)::int as n
                from bench_gen.calendar as k
                inner join bench_gen.districts as dd on k.district_id = dd.district_id
                where k.local_date between %(first)s and %(night)s
                order by k.district_id, k.local_date
                """,
                {"rate": s.contacts_per_1000, "first": s.first_day, "night": s.night_day},
            )
            conn.execute(
                f"create unlogged table bench_gen.plan as {plan_sql()} with no data",
                {"first": s.first_day, "parts": 1, "part": 0},
            )
        # Days split across sessions, each seeded: the same scale plans the same tickets.
        self._parallel(f"insert into bench_gen.plan {plan_sql()}", {"first": s.first_day})
        with self._session() as conn:
            conn.execute("analyze bench_gen.plan")
            return conn.execute("select count(*) from bench_gen.plan").fetchone()[0]

    def land(self, night: bool) -> dict[str, int]:
        """Land the history (everything before the night) or the one night; returns rows per
        raw table. History rows are loaded by the run of the night after their version; the
        night's rows at now()."""
        lo = self.cut_history if night else dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        hi = self.cut_night if night else self.cut_history
        params = {"lo": lo, "hi": hi, "history": not night, "now": dt.datetime.now(dt.UTC)}
        if night:
            loaded = "%(now)s::timestamptz"
            batch_of = "'bench_night:' || d.source_instance || ':' || %(run)s"
            params["run"] = uuid.uuid4().hex[:8]
        else:  # the run at the end of the version's nightly interval, per source
            loaded = f"{_night_end('{v}')} + interval '7 minutes'"
            batch_of = (
                "'bench_' || to_char({n} - interval '1 day', 'YYYY-MM-DD') || ':'"
                " || d.source_instance || ':' || substr(md5(d.source_instance || {n}::text), 1, 8)"
            ).replace("{n}", _night_end("{v}"))
        counts: dict[str, int] = {}
        with self._session() as conn:
            create_scratch(conn)  # whole records land there; pack_landed moves them to raw
            # A year in one go: build the raw tables' indexes after the rows, not row by row.
            indexes = [] if night else _drop_raw_indexes(conn)
            if not night:
                counts.update(land_dimensions(conn, self.scale.first_day, loaded, batch_of))
                self._say(f"raw.zendesk_users {counts['zendesk_users']:,}, groups, organizations")
        if not night:
            for table in ("zendesk_users", "zendesk_groups", "zendesk_organizations"):
                pack_landed(self.url, table, self._say)
        with self._session() as conn:
            planned = conn.execute("select count(*) from bench_gen.plan").fetchone()[0]
        params["chunks"] = chunks = max(1, -(-planned // CHUNK_TICKETS))
        for table, sql in landing_sql(loaded, batch_of).items():
            counts[table] = 0
            for chunk in range(chunks):
                started = time.monotonic()
                counts[table] += self._parallel(sql, {**params, "chunk": chunk})
                of = f", chunk {chunk + 1}/{chunks}" if chunks > 1 else ""
                self._say(f"raw.{table} {counts[table]:,}{of} ({time.monotonic() - started:.0f}s)")
                pack_landed(self.url, table, self._say)
        with self._session() as conn:
            if indexes:
                started = time.monotonic()
                _restore_raw_indexes(conn, indexes)
                self._say(f"raw indexes rebuilt ({time.monotonic() - started:.0f}s)")
            record_runs(conn, night)
        return counts

    def _parallel(self, sql: str, params: dict) -> int:
        """Run `sql` (filtered on mod(..., %(parts)s) = %(part)s) in PARTS seeded sessions."""
        from concurrent.futures import ThreadPoolExecutor

        def one(part: int) -> int:
            with self._session() as conn:
                conn.execute("select setseed(%s)", (self.scale.seed + part / 10,))
                return conn.execute(sql, {**params, "parts": PARTS, "part": part}).rowcount

        with ThreadPoolExecutor(PARTS) as pool:
            return sum(pool.map(one, range(PARTS)))

    def drop(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("drop schema if exists bench_gen cascade")


def vacuum_analyze(url: str, tables=RAW_TABLES) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for t in tables:
            conn.execute(f"vacuum analyze raw.{t}")
        conn.execute("checkpoint")


def planned_tickets(url: str, before: dt.datetime) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select count(*) from bench_gen.plan where t0 < %s", (before,)
        ).fetchone()[0]
