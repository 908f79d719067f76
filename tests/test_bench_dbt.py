"""The dbt benchmark's synthesiser at a tiny scale: it must land what the project builds.

One district of 200 students over three weeks, synthesised in SQL into a fresh warehouse, then
`dbt build` of the whole project (models and tests): every synthesised ticket becomes exactly
one interaction in fct_interactions, none is quarantined, and first responses are there. So the
synthesiser cannot drift from the landing shapes without this failing.
"""

from __future__ import annotations

import psycopg
import pytest

from schoolcx.privacy import person_hash
from schoolcx.sandbox.bench import dbt as bench_dbt


def test_tiny_synthesised_school_year_builds_one_interaction_per_ticket(warehouse, tmp_path):
    scale = bench_dbt.TINY
    cfg = bench_dbt.prepare(warehouse, scale)
    gen = bench_dbt.Synthesiser(warehouse, scale, cfg)
    planned = gen.plan()
    landed = gen.land(night=False)
    tickets = bench_dbt.planned_tickets(warehouse, gen.cut_history)
    assert 0 < tickets <= planned
    assert landed["zendesk_ticket_events"] > 2 * tickets  # create, replies, solves, closes
    # the history streams into raw by the writer's rule: of each record only the latest
    # version keeps its projection (packing's docstring), every version keeps its whole record
    with psycopg.connect(warehouse) as conn:
        records, wrong, superseded, unpacked = conn.execute(
            "select count(*), count(*) filter (where kept <> 1 or kept_at <> latest),"
            " sum(versions - kept), sum(unpacked) from ("
            "  select count(*) as versions, count(*) filter (where payload <> '{}') as kept,"
            "   max(updated_at) as latest,"
            "   max(updated_at) filter (where payload <> '{}') as kept_at,"
            "   count(*) filter (where payload_z is null) as unpacked"
            "  from raw.zendesk_tickets group by source_instance, source_id) as r"
        ).fetchone()
    assert records == tickets and wrong == 0 and unpacked == 0
    assert superseded > 0  # tickets landed as of their creation night and as of the window's end

    run = bench_dbt.run_dbt(
        warehouse, cfg, scale.last_day, full_refresh=True, target_dir=tmp_path / "target"
    )
    assert run.ok, "\n".join(run.errors)
    assert run.statuses.get("error", 0) == 0 and run.statuses.get("fail", 0) == 0

    with psycopg.connect(warehouse) as conn:
        n, answered, solved, rejected = conn.execute(
            "select count(*), count(first_response_at), count(resolved_at),"
            " (select count(*) from int.int_interactions_rejected)"
            " from build.fct_interactions"
        ).fetchone()
        landed_ids = conn.execute(
            "select count(distinct source_id) from raw.zendesk_tickets"
        ).fetchone()[0]
        email, stored = conn.execute(
            "select payload ->> 'email', person_hash from raw.zendesk_users"
            " where payload ->> 'role' = 'end-user' limit 1"
        ).fetchone()
    assert n == tickets == landed_ids
    assert rejected == 0
    assert 0.9 * n < answered < n  # most answered, a few never
    assert 0.5 * n < solved < n
    assert stored == person_hash(email)  # the SQL HMAC is RawWriter's

    # a resumed run (--resume) starts its full build from this landing as a fresh run would:
    # what dbt built is dropped, raw and the migrations' schemas stay
    from schoolcx.sandbox.bench.dbt.landing import RAW_TABLES
    from schoolcx.sandbox.bench.dbt.run import drop_built
    from schoolcx.sandbox.bench.dbt.timing import timed_counts

    drop_built(warehouse)
    with psycopg.connect(warehouse) as conn:
        schemas = {r[0] for r in conn.execute("select nspname from pg_namespace")}
    assert not schemas & {"stg", "int"} and {"raw", "ref", "build", "marts"} <= schemas
    counted = timed_counts(warehouse, [f"raw.{t}" for t in RAW_TABLES])
    assert {t: counted[f"raw.{t}"]["rows"] for t in RAW_TABLES} == landed


def test_a_scale_the_disk_cannot_hold_is_refused_before_anything_is_generated(tmp_path):
    huge = bench_dbt.Scale(
        "huge", (bench_dbt.DistrictSpec("Everywhere SD", "IL", "17", "America/Chicago", 10**9),)
    )
    with pytest.raises(RuntimeError, match="--weeks") as refused:
        bench_dbt.check_disk(huge, tmp_path)
    assert "huge needs about" in str(refused.value)
    bench_dbt.check_disk(bench_dbt.TINY, tmp_path)  # three weeks of 200 students fit
    bench_dbt.check_disk(huge, None)  # a WAREHOUSE_URL server: its disk is not ours to judge
    # a year of M is ten times S
    m, s = (bench_dbt.disk_needed_gb(bench_dbt.SCALES[n]) for n in ("M", "S"))
    assert m == pytest.approx(10 * s)


def test_a_resumed_run_needs_disk_only_for_what_it_builds_and_names_one_scale():
    from schoolcx.sandbox.bench.dbt.scales import DISK_HEADROOM, MB_PER_STUDENT_YEAR, school_years

    m = bench_dbt.SCALES["M"]
    years = school_years(m.first_day, m.last_day)
    raw_gb = m.students * years * MB_PER_STUDENT_YEAR["raw"] * DISK_HEADROOM / 1024
    assert bench_dbt.disk_needed_gb(m, landed=True) == pytest.approx(
        bench_dbt.disk_needed_gb(m) - raw_gb
    )
    with pytest.raises(SystemExit):  # which scale the database holds is not guessed
        bench_dbt.main(["--scale", "S,M", "--resume", "bench_dbt_m_0"])


def test_a_scale_that_fits_only_without_the_intraday_copies_runs_without_the_cycle(tmp_path):
    import shutil

    from schoolcx.sandbox.bench.dbt.scales import DISK_HEADROOM, MB_PER_STUDENT_YEAR

    free_mb = shutil.disk_usage(tmp_path).free / 1024**2
    nightly_mb = MB_PER_STUDENT_YEAR["raw"] + MB_PER_STUDENT_YEAR["nightly"]
    # a full year whose nightly path takes 90 % of the free disk: with the copies, 90 % x 1.35
    students = int(0.9 * free_mb / (nightly_mb * DISK_HEADROOM))
    tight = bench_dbt.Scale(
        "tight", (bench_dbt.DistrictSpec("Tight SD", "IL", "17", "America/Chicago", students),)
    )
    assert bench_dbt.disk_needed_gb(tight, intraday=False) < free_mb / 1024
    assert bench_dbt.disk_needed_gb(tight) > free_mb / 1024
    why = bench_dbt.check_disk(tight, tmp_path)
    assert why and why.startswith("not run: with the intraday path's own copies tight needs")
    assert bench_dbt.check_disk(bench_dbt.TINY, tmp_path) is None  # everything fits


def test_the_disk_peak_is_the_largest_sample_with_the_phase_it_was_taken_in(warehouse):
    import time

    from schoolcx.sandbox.bench.dbt.disk import DiskPeak

    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("drop table if exists public.disk_peak_probe")
        before = conn.execute("select pg_database_size(current_database())").fetchone()[0]
        peak = DiskPeak(warehouse, every_s=0.05).start()
        peak.phase = "growing"
        conn.execute(
            "create table public.disk_peak_probe as"
            " select g, repeat(md5(g::text), 8) as pad from generate_series(1, 60000) as g"
        )
        grown = conn.execute("select pg_database_size(current_database())").fetchone()[0]
        seen = peak.samples
        while peak.samples < seen + 2:  # two samples taken with the table there
            time.sleep(0.02)
        peak.phase = "grown"
        peak.stop()
        conn.execute("drop table public.disk_peak_probe")
    got = peak.result()
    assert grown - before > 15 * 1024**2  # 60,000 rows of 256 bytes
    # the peak holds the grown table (plus temp files and WAL), in the phase it was taken in
    assert got["split_mb"]["database"] >= round(grown / 1024**2) - 1
    assert abs(got["peak_mb"] - sum(got["split_mb"].values())) <= 2  # parts rounded apart
    assert got["phase"] in ("growing", "grown") and got["samples"] >= 3
    assert got["server_files"] is True  # the embedded server's superuser reads pg_ls_waldir


def test_the_history_lands_the_same_rows_in_chunks(warehouse, pg_server, monkeypatch):
    """A year of M lands in chunks of disjoint tickets (synthesis.CHUNK_TICKETS), so its scratch
    table holds one chunk: the rows raw ends with are those of a landing in one go."""
    from schoolcx.sandbox.bench.dbt import synthesis
    from tests.faults_support import fresh_warehouse

    def landed(url: str) -> dict[str, list]:
        scale = bench_dbt.TINY
        gen = bench_dbt.Synthesiser(url, scale, bench_dbt.prepare(url, scale))
        gen.plan()
        gen.land(night=False)
        with psycopg.connect(url) as conn:
            return {
                t: conn.execute(
                    f"select source_id, updated_at, payload::text, _loaded_at, _batch_id"
                    f" from raw.{t} order by 1, 2"
                ).fetchall()
                for t in ("zendesk_tickets", "zendesk_ticket_events")
            }

    whole = landed(warehouse)
    tickets = len({r[0] for r in whole["zendesk_tickets"]})
    monkeypatch.setattr(synthesis, "CHUNK_TICKETS", max(tickets // 3, 1))
    chunked = landed(fresh_warehouse(pg_server))
    assert chunked == whole and len(whole["zendesk_ticket_events"]) > 2 * tickets
