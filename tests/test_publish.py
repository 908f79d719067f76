"""Write-audit-publish: what publish does to `marts`, `ops.publish_log`, and concurrent readers.

The gate's verdict is given directly (a GateResult) here: publish trusts only the verdict, and
the GX gate itself is exercised in test_quality_gate.py.
"""

from __future__ import annotations

import datetime as dt
import gzip
import threading
import time

import psycopg
import pytest

from schoolcx import cli
from schoolcx.publish import GateBlocked, marts_checksum, publish, raise_if_blocked
from schoolcx.publish.archive import ArchiveRefused, archive_year
from schoolcx.publish.checksum import combine
from schoolcx.publish.relations import MARTS
from schoolcx.quality.result import CheckOutcome, GateResult
from tests.fixture_marts import DISTRICTS, as_of, build_night, fixture_config, last_date

CFG = fixture_config()


def passed(run_id: str) -> GateResult:
    return GateResult(run_id=run_id, passed=True)


def failed(run_id: str) -> GateResult:
    return GateResult(
        run_id=run_id,
        passed=False,
        outcomes=[
            CheckOutcome(
                name="fct_interactions.interaction_key.unique",
                kind="key_unique",
                suite="schoolcx.build.fct_interactions",
                relation="build.fct_interactions",
                severity="critical",
                passed=False,
                observed_value="2 unexpected of 1400 rows",
            )
        ],
    )


def night(url: str, n: int, gate: GateResult | None = None):
    build_night(url, n)
    gate = gate or passed(f"night-{n}")
    return publish(url, CFG, gate.run_id, as_of(n - 1), as_of(n), gate)


def test_publish_copies_build_and_logs_counts_and_checksum(warehouse):
    result = night(warehouse, 1)
    assert result.published and set(result.recreated) == set(MARTS)  # first publish creates
    with psycopg.connect(warehouse) as conn:
        for mart in MARTS:
            built = conn.execute(f"select count(*) from build.{mart}").fetchone()[0]
            published = conn.execute(f"select count(*) from marts.{mart}").fetchone()[0]
            assert built == published == result.row_counts[mart] > 0
        log = conn.execute(
            "select run_id, data_interval_start, data_interval_end, published, gate_passed,"
            " row_counts, checksum from ops.publish_log"
        ).fetchall()
    assert marts_checksum(warehouse) == result.checksums
    assert log == [
        ("night-1", as_of(0), as_of(1), True, True, result.row_counts, combine(result.checksums))
    ]

    again = night(warehouse, 2)
    assert again.published and again.recreated == []  # same columns: refilled in place
    assert again.row_counts["fct_interactions"] > result.row_counts["fct_interactions"]
    with psycopg.connect(warehouse) as conn:
        # build keeps its tables (facts there are incremental)
        assert (
            conn.execute("select count(*) from build.fct_interactions").fetchone()[0]
            == again.row_counts["fct_interactions"]
        )


def test_failed_gate_changes_nothing_and_caller_raises(warehouse):
    night(warehouse, 1)
    before = marts_checksum(warehouse)
    result = night(warehouse, 2, gate=failed("bad-2"))
    assert not result.published
    assert result.blocked_by == ["fct_interactions.interaction_key.unique"]
    assert marts_checksum(warehouse) == before
    with pytest.raises(GateBlocked, match=r"fct_interactions\.interaction_key\.unique"):
        raise_if_blocked(result)
    with psycopg.connect(warehouse) as conn:
        row = conn.execute(
            "select published, gate_passed, row_counts, checksum, detail"
            " from ops.publish_log where run_id = 'bad-2'"
        ).fetchone()
    assert row[:4] == (False, False, {}, None)
    assert "2 unexpected of 1400 rows" in row[4]


def test_gate_result_round_trips_through_xcom_json(warehouse):
    import json

    gate = GateResult.from_dict(json.loads(json.dumps(failed("x").to_dict())))
    assert not gate.passed and gate.failed_names() == ["fct_interactions.interaction_key.unique"]
    result = publish(warehouse, CFG, "x", as_of(0), as_of(1), failed("x").to_dict())
    assert not result.published and result.to_dict()["blocked_by"] == gate.failed_names()


def test_changed_columns_recreate_the_mart_with_access(warehouse):
    night(warehouse, 1)
    build_night(warehouse, 2)
    with psycopg.connect(warehouse) as conn:
        conn.execute("alter table build.yoy_trends add column note text default 'v2'")
    result = publish(warehouse, CFG, "night-2", as_of(1), as_of(2), passed("night-2"))
    assert result.recreated == ["yoy_trends"]
    with psycopg.connect(warehouse) as conn:
        assert conn.execute("select distinct note from marts.yoy_trends").fetchall() == [("v2",)]
        rls = conn.execute(
            "select relrowsecurity from pg_class where oid = 'marts.yoy_trends'::regclass"
        ).fetchone()[0]
        policies = {
            r[0]
            for r in conn.execute(
                "select policyname from pg_policies where schemaname = 'marts'"
                " and tablename = 'yoy_trends'"
            )
        }
        grants = conn.execute(
            "select has_table_privilege('schoolcx_bi', 'marts.yoy_trends', 'SELECT'),"
            " has_table_privilege('schoolcx_bi_district', 'marts.yoy_trends', 'SELECT')"
        ).fetchone()
        leftovers = conn.execute(
            "select count(*) from pg_tables where schemaname = 'marts'"
            " and tablename like '%%publishing'"
        ).fetchone()[0]
    assert rls and policies == {"schoolcx_bi_all_v1", "schoolcx_bi_district_v1"}
    assert grants == (True, True) and leftovers == 0


READ_ALL = """
select (select count(*) from marts.dim_district),
       (select count(*) from marts.fct_interactions),
       (select sum(interactions) from marts.fct_daily_volume),
       (select sum(interactions) from marts.district_scorecard),
       (select count(*) from marts.fct_ratings),
       (select count(*) from marts.fct_survey_item_results),
       (select count(*) from marts.peer_benchmarks),
       (select count(*) from marts.yoy_trends),
       (select max(local_date) from marts.fct_daily_volume),
       (select max(span_end) from marts.yoy_trends),
       (select max(local_date) from marts.fct_daily_volume where interactions > 0),
       (select max(local_date) from marts.fct_interactions),
       (select count(*) from marts.fct_ratings r where not exists (
            select 1 from marts.fct_interactions i where i.interaction_key = r.interaction_key))
"""


def consistent(row) -> str | None:
    """None when the row is one whole night; else what is wrong."""
    (
        districts,
        interactions,
        volume,
        scorecard,
        ratings,
        items,
        peers,
        yoy,
        last_day,
        span_end,
        last_busy_day,
        last_interaction_day,
        orphans,
    ) = row
    if min(districts, interactions, ratings, items, peers, yoy) == 0:
        return f"an empty mart: {row}"
    if not (interactions == volume == scorecard):
        return f"facts of different nights: {row}"
    if last_day != span_end or last_busy_day != last_interaction_day:
        return f"last dates of different nights: {row}"
    if (
        districts != DISTRICTS
        or peers != 2 * DISTRICTS
        or yoy != DISTRICTS
        or items != 3 * DISTRICTS
        or orphans
    ):
        return f"dimension or benchmark rows of different nights: {row}"
    return None


class Reader(threading.Thread):
    """Reads every mart in a loop through its own connection; collects anything inconsistent."""

    def __init__(self, url: str, mode: str):
        super().__init__(daemon=True)
        self.url, self.mode = url, mode
        self.stop = threading.Event()
        self.problems: list[str] = []
        self.nights: set = set()
        self.reads = 0

    def run(self):
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.is_set():
                try:
                    row = self.read(conn)
                except psycopg.Error as exc:  # a missing table shows up here
                    self.problems.append(f"{type(exc).__name__}: {exc}")
                    continue
                self.reads += 1
                self.nights.add(row[8])
                problem = consistent(row)
                if problem:
                    self.problems.append(problem)

    def read(self, conn):
        if self.mode == "statement":
            return conn.execute(READ_ALL).fetchone()
        # one REPEATABLE READ transaction, one statement per mart, a pause in between: a
        # publish that commits meanwhile must stay invisible to the rest of the transaction
        with conn.transaction():
            conn.execute("set transaction isolation level repeatable read")
            parts = []
            for expr in READ_ALL.strip()[len("select ") :].split(",\n"):
                parts.append(conn.execute(f"select {expr.strip()}").fetchone()[0])
                time.sleep(0.002)
            return tuple(parts)


def _with_readers(url, modes, publish_nights):
    readers = [Reader(url, m) for m in modes]
    for r in readers:
        r.start()
    try:
        publish_nights()
    finally:
        time.sleep(0.2)
        for r in readers:
            r.stop.set()
        for r in readers:
            r.join(timeout=30)
    return readers


def test_readers_see_one_whole_night_during_publishes(warehouse):
    night(warehouse, 1)

    def nights():
        for n in range(2, 7):
            night(warehouse, n)
            time.sleep(0.05)

    readers = _with_readers(warehouse, ["statement", "statement", "transaction"], nights)
    for r in readers:
        assert r.problems == [], (r.mode, r.problems[:3])
        assert r.reads > 5
    seen = set().union(*(r.nights for r in readers))
    assert len(seen) >= 3 and seen <= {last_date(n) for n in range(1, 7)}


def test_schema_change_publish_is_atomic_for_statement_readers(warehouse):
    night(warehouse, 1)

    def nights():
        night(warehouse, 2)
        build_night(warehouse, 3)
        with psycopg.connect(warehouse) as conn:
            conn.execute("alter table build.fct_interactions add column channel_group text")
            conn.execute("alter table build.fct_daily_volume add column note text")
        result = publish(warehouse, CFG, "night-3", as_of(2), as_of(3), passed("night-3"))
        assert set(result.recreated) == {"fct_daily_volume", "fct_interactions"}
        night(warehouse, 4)

    readers = _with_readers(warehouse, ["statement", "statement"], nights)
    for r in readers:
        assert r.problems == [], r.problems[:3]
        assert r.reads > 5


def _publish_log(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select run_id, as_of_date, published, gate_passed, detail from ops.publish_log"
            " order by logged_at"
        ).fetchall()


def test_an_older_night_never_replaces_newer_published_marts(warehouse):
    # Night 2 is published; then night 1 runs again (a rerun, a backfill of its interval):
    # its build and its gate pass, but marts stay on night 2, byte for byte.
    night(warehouse, 2)
    published = marts_checksum(warehouse)
    old = night(warehouse, 1)
    assert not old.published and old.gate_passed  # not blocked: the gate passed
    assert raise_if_blocked(old) is old  # and not an error for the caller
    assert old.as_of == last_date(1).isoformat()
    assert old.skipped == (
        f"skipped: published as-of {last_date(2)} is newer than this run's {last_date(1)}"
    )
    assert marts_checksum(warehouse) == published
    log = _publish_log(warehouse)
    assert [r[:4] for r in log] == [
        ("night-2", last_date(2), True, True),
        ("night-1", last_date(1), False, True),
    ]
    assert old.skipped in log[1][4]
    # the old night's build is still there for whoever looks (its own figures)
    with psycopg.connect(warehouse) as conn:
        built = conn.execute("select max(local_date) from build.fct_daily_volume").fetchone()[0]
        shown = conn.execute("select max(local_date) from marts.fct_daily_volume").fetchone()[0]
    assert (built, shown) == (last_date(1), last_date(2))


def test_republish_replaces_newer_marts_when_asked(warehouse):
    night(warehouse, 2)
    newer = marts_checksum(warehouse)
    build_night(warehouse, 1)
    result = publish(
        warehouse, CFG, "night-1", as_of(0), as_of(1), passed("night-1"), republish=True
    )
    assert result.published and result.skipped is None
    assert marts_checksum(warehouse) == result.checksums != newer
    with psycopg.connect(warehouse) as conn:
        shown = conn.execute("select max(local_date) from marts.fct_daily_volume").fetchone()[0]
    assert shown == last_date(1)
    # the marts now show night 1: night 2 publishes again without being asked
    again = night(warehouse, 2)
    assert again.published and marts_checksum(warehouse) == newer


def test_rerun_of_the_published_night_publishes_the_same_marts(warehouse):
    first = night(warehouse, 2)
    again = night(warehouse, 2)  # same as-of: not older, so not skipped
    assert again.published and again.checksum == first.checksum


def test_a_second_demo_finds_its_nights_already_published(warehouse):
    # `schoolcx demo` asks this before running: night 2 published, night 1 never (here), a
    # skipped night does not count as published.
    from schoolcx.runner import interval_end_for, published_nights

    night(warehouse, 2)
    night(warehouse, 1)  # skipped: older than night 2
    assert interval_end_for(last_date(2)) == as_of(2)  # the fixture's nights are real nights
    nights = [last_date(1), last_date(2), last_date(3)]
    assert published_nights(warehouse, nights) == {last_date(2): str(last_date(2))}


def _partitions(conn, table: str) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid"
            " where i.inhparent = to_regclass(%s) order by 1",
            (table,),
        )
    ]


def test_partitioned_facts_publish_partitioned_and_archive_year_detaches(
    warehouse, tmp_path, monkeypatch, capsys
):
    """The fixture's facts are partitioned by school year in build (as dbt builds them): the
    published marts are too, new years get their partition, and archive-year takes a past
    year out of marts and build, for good (a later publish does not bring it back)."""
    night(warehouse, 1)
    with psycopg.connect(warehouse) as conn:
        # a year marts has not seen yet: publish makes its partition
        conn.execute(
            "create table build.fct_backlog_daily_y2025 partition of build.fct_backlog_daily"
            " for values from ('2024-07-01') to ('2025-07-01')"
        )
        conn.execute(
            "insert into build.fct_backlog_daily (district_id, local_date, backlog)"
            " values ('d-old', '2025-06-30', 7)"
        )
    publish(warehouse, CFG, "night-1b", as_of(0), as_of(1), passed("night-1b"), republish=True)
    with psycopg.connect(warehouse) as conn:
        assert _partitions(conn, "marts.fct_interactions") == ["fct_interactions_y2026"]
        assert _partitions(conn, "marts.fct_backlog_daily") == [
            "fct_backlog_daily_y2025",
            "fct_backlog_daily_y2026",
        ]
        assert conn.execute(
            "select backlog from marts.fct_backlog_daily_y2025 where district_id = 'd-old'"
        ).fetchone() == (7,)
        in_2026 = conn.execute("select count(*) from marts.fct_interactions").fetchone()[0]
    # the current year (and a later one) is refused, by the CLI too, and nothing moves
    with pytest.raises(ArchiveRefused, match="2025-26 is the current one"):
        archive_year(warehouse, 2026, today=dt.date(2026, 6, 30))
    monkeypatch.setenv("WAREHOUSE_URL", warehouse)
    assert cli.main(["warehouse", "archive-year", "2098-99"]) == 1
    assert "refused: school year 2098-99 is not over" in capsys.readouterr().err
    # a past year: exported and dropped from marts and build
    assert cli.main(["warehouse", "archive-year", "2024-25", "--to", str(tmp_path)]) == 0
    exported = tmp_path / "marts.fct_backlog_daily_y2025.csv.gz"
    with gzip.open(exported, "rt") as f:
        lines = f.read().splitlines()
    assert lines[0].startswith("district_id,local_date") and lines[1].startswith("d-old,")
    assert (tmp_path / "build.fct_backlog_daily_y2025.csv.gz").exists()
    # a year later, 2025-26 is past: kept in the archive schema (no --to)
    moved = archive_year(warehouse, 2026, today=dt.date(2026, 7, 1))
    assert {m.archived_to for m in moved} >= {
        "archive.marts_fct_interactions_y2026",
        "archive.build_fct_interactions_y2026",
    }
    night(warehouse, 2)  # build has 2025-26 again (a full refresh from raw would): not published
    with psycopg.connect(warehouse) as conn:
        assert _partitions(conn, "marts.fct_interactions") == []
        assert conn.execute("select count(*) from marts.fct_interactions").fetchone()[0] == 0
        assert (
            conn.execute("select count(*) from archive.marts_fct_interactions_y2026").fetchone()[0]
            == in_2026
        )
        archived = conn.execute(
            "select table_name, school_year from ops.archived_school_years order by 1, 2"
        ).fetchall()
    assert ("marts.fct_backlog_daily", 2025) in archived
    assert ("marts.fct_interactions", 2026) in archived
