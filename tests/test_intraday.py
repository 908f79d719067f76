"""The intraday path (issue 18, "Today, not only last night") against a real warehouse and dbt.

On the small hand-written world of tests/fixture_dbt_core.py: night one is built and its core
marts published as the nightly does; Monday 2026-03-23 then lands (night two's rows plus a
ticket created after the last cycle and a reply that arrives after it). Checks that:

- a cycle publishes marts.today_status (one row per district) and leaves every other
  published mart, and the nightly's own `build`/`int`/`stg` models, exactly as they were;
- the hand-worked today_status unit test passes (dbt unit test, _intraday__models.yml);
- at day end the nightly's figures for the day equal the last cycle's, the difference being
  exactly what was stamped after that cycle;
- the nightly and a cycle never overlap: a cycle skips (saying why) while the nightly holds
  its lease or another cycle holds the lock, and the nightly waits for a running cycle.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from schoolcx import lease, pipeline
from schoolcx.intraday.cycle import dbt_vars, run_cycle
from schoolcx.paths import DBT_PROJECT_DIR
from schoolcx.publish.checksum import marts_checksum, relation_checksum
from schoolcx.publish.wap import publish
from schoolcx.quality.result import GateResult
from schoolcx.warehouse import migrate
from tests import fixture_dbt_core as fx

CORE = ("dim_district", "fct_interactions", "fct_ratings", "fct_daily_volume")
DAY = dt.date(2026, 3, 23)  # Monday, CDT (UTC-5) in Lincoln
LAST_CYCLE = dt.datetime(2026, 3, 23, 21, 45, tzinfo=dt.UTC)  # 16:45 CDT: after close + 15
DAY_END = dt.datetime(2026, 3, 24, 4, 59, 59, tzinfo=dt.UTC)  # 23:59:59 CDT
NIGHTLY_RELATIONS = (  # the nightly's own incremental models and marts in build
    ("stg", "stg_zendesk__tickets"),
    ("int", "int_interactions_unioned"),
    ("build", "fct_interactions"),
    ("build", "fct_daily_volume"),
)


def _after_the_last_cycle() -> dict[str, list[dict]]:
    """Z90 created 17:00 CDT (after the last cycle); Z91 created 15:00, answered 17:30."""
    return {
        "zendesk_tickets": [
            fx._ticket(
                1090, "2026-03-23T22:00:00Z", "2026-03-23T22:00:00Z", "new", priority="normal"
            ),
            fx._ticket(
                1091, "2026-03-23T20:00:00Z", "2026-03-23T22:30:00Z", "open", priority="normal"
            ),
        ],
        "zendesk_ticket_events": [
            fx._event(1090, "2026-03-23T22:00:00Z", fx.status("new"), fx.comment(fx.PARENT)),
            fx._event(1091, "2026-03-23T20:00:00Z", fx.status("new"), fx.comment(fx.PARENT)),
            fx._event(
                1091,
                "2026-03-23T22:30:00Z",
                fx.comment(fx.AGENT),
                fx.status("open", "new"),
                updater=fx.AGENT,
            ),
        ],
    }


def _nightly_build(url: str, as_of: str) -> None:
    pipeline.dbt(
        url,
        [
            "build",
            "--select",
            *(f"+{m}" for m in CORE),
            "--indirect-selection",
            "cautious",
            "--vars",
            f"{{as_of_date: '{as_of}'}}",
        ],
        extra_env={"DBT_TARGET_PATH": str(Path(os.environ["PT_TMP"]) / "target")},
    )


def _extracted_at(url: str, finished: dt.datetime) -> None:
    """Every configured source had a successful extract then (the freshness check)."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "insert into ops.extract_runs (run_id, batch_id, source_instance, source_type,"
            " started_at, finished_at, status) select %(run)s, %(run)s || source_instance,"
            " source_instance, source_type, %(at)s, %(at)s, 'success' from ref.sources",
            {"run": f"fixture-{finished.isoformat()}", "at": finished},
        )


@pytest.fixture(scope="module")
def world(module_warehouse, tmp_path_factory):
    url = module_warehouse
    saved = {k: os.environ.get(k) for k in ("PT_TMP", "SCHOOLCX_HOME")}
    os.environ["PT_TMP"] = str(tmp_path_factory.mktemp("intraday"))
    os.environ["SCHOOLCX_HOME"] = os.environ["PT_TMP"]  # the cycle's dbt target folder
    cfg = fx.config()
    migrate(url)
    pipeline.prepare(url, cfg)
    fx.insert_rows(url, fx.night_one_rows(), "night-1", dt.timedelta(days=10))
    _nightly_build(url, fx.AS_OF_NIGHT_ONE)
    gate = GateResult(run_id="night-1", passed=True)
    start = dt.datetime(2026, 3, 20, 13, tzinfo=dt.UTC)
    publish(url, cfg, "night-1", start, start + dt.timedelta(days=1), gate, marts=CORE)
    # Monday lands during the day (the intraday extracts; here written straight into raw)
    fx.insert_rows(url, fx.night_two_rows(), "monday", dt.timedelta(hours=3))
    fx.insert_rows(url, _after_the_last_cycle(), "monday-late")
    _extracted_at(url, DAY_END)
    yield url, cfg
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _checksums(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        return {f"{s}.{t}": relation_checksum(conn, s, t)[1] for s, t in NIGHTLY_RELATIONS}


def _today(url: str) -> dict[str, dict]:
    with psycopg.connect(url) as conn:
        cur = conn.execute("select * from marts.today_status")
        names = [c.name for c in cur.description]
        return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def test_a_cycle_publishes_today_status_and_changes_nothing_else(world):
    url, cfg = world
    marts_before, nightly_before = marts_checksum(url), _checksums(url)
    assert set(marts_before) == set(CORE)
    result = run_cycle(url, cfg, LAST_CYCLE, extract=False)  # 16:45 CDT: in the margin
    assert result.status == "published", result
    assert result.row_count == len(cfg.districts)
    assert marts_checksum(url) == marts_before  # the nightly marts: unchanged
    assert _checksums(url) == nightly_before  # the nightly's build, int, stg: unchanged
    today = _today(url)
    assert {r["as_of_at"] for r in today.values()} == {LAST_CYCLE}
    lincoln = today[fx.LINCOLN]
    assert lincoln["local_date"] == DAY
    # Z7 1007 (09:00, answered 09:30: 30), C3 (09:00, answered 09:20: 20), Z91 (15:00, its
    # reply comes at 17:30: not yet); Z90 is created at 17:00, after the cycle
    assert (lincoln["contacts_today"], lincoln["answered_today"]) == (3, 2)
    assert lincoln["median_first_response_business_minutes"] == Decimal("25")
    with psycopg.connect(url) as conn:
        logged = conn.execute(
            "select status, row_count, checksum from ops.intraday_cycles where cycle_at = %s",
            (LAST_CYCLE,),
        ).fetchone()
    assert logged == ("published", 3, result.checksum)
    # an older cycle never replaces a newer one
    older = run_cycle(url, cfg, LAST_CYCLE - dt.timedelta(hours=1), extract=False)
    assert older.status == "skipped" and "newer cycle" in older.reason
    assert _today(url)[fx.LINCOLN]["as_of_at"] == LAST_CYCLE


def test_hand_worked_today_status_unit_test(world):
    """The dbt unit test today_status_by_hand (its arithmetic is in _intraday__models.yml),
    against the intraday schemas the cycle built."""
    url, cfg = world
    env = {**os.environ, **pipeline.dbt_env(url), "DBT_EXCLUDE_RESOURCE_TYPES": "snapshot"}
    env["DBT_TARGET_PATH"] = str(Path(os.environ["PT_TMP"]) / "unit-target")
    import json

    vars_ = json.dumps({**dbt_vars(cfg, LAST_CYCLE), "intraday_at": LAST_CYCLE.isoformat()})
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            "test",
            "--select",
            "today_status,test_type:unit",
            "--vars",
            vars_,
            "--project-dir",
            str(DBT_PROJECT_DIR),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    assert "PASS today_status::today_status_by_hand" in done.stdout or (
        "today_status_by_hand" in done.stdout and "ERROR=0" in done.stdout
    )


def test_at_day_end_the_nightly_equals_the_last_cycle(world):
    url, cfg = world
    last = _today(url)[fx.LINCOLN]  # the 16:45 cycle of the test above
    assert last["as_of_at"] == LAST_CYCLE
    _nightly_build(url, DAY.isoformat())  # the night of Monday: the record
    with psycopg.connect(url) as conn:
        volume = conn.execute(
            "select interactions from build.fct_daily_volume where district_id = %s"
            " and local_date = %s",
            (fx.LINCOLN, DAY),
        ).fetchone()[0]
        night = conn.execute(
            "select created_at, first_response_at, first_response_business_minutes"
            " from build.fct_interactions where district_id = %s and local_date = %s",
            (fx.LINCOLN, DAY),
        ).fetchall()
    # The difference from the last cycle is what was stamped after it, nothing else:
    # Z90 created at 17:00, Z91 answered at 17:30.
    created_after = [r for r in night if r[0] > LAST_CYCLE]
    answered_after = [r for r in night if r[1] is not None and r[1] > LAST_CYCLE]
    assert (len(created_after), len(answered_after)) == (1, 1)
    assert volume == last["contacts_today"] + len(created_after)
    answered = [r for r in night if r[1] is not None]
    assert len(answered) == last["answered_today"] + len(answered_after)
    # The last instant of the day sees what the night sees: equal figures.
    end = run_cycle(url, cfg, DAY_END, extract=False, force=True)
    assert end.status == "published", end
    at_end = _today(url)[fx.LINCOLN]
    assert at_end["local_date"] == DAY
    assert (at_end["contacts_today"], at_end["answered_today"]) == (volume, len(answered))
    assert at_end["median_first_response_business_minutes"] == statistics.median(
        [r[2] for r in answered]
    )


def test_the_cli_runs_one_cycle(world, tmp_path, monkeypatch, capsys):
    import yaml

    from schoolcx import cli

    url, _ = world
    config = tmp_path / "deployment.yml"
    config.write_text(yaml.safe_dump(fx.CONFIG))
    monkeypatch.setenv("WAREHOUSE_URL", url)
    at = DAY_END + dt.timedelta(seconds=1)  # Tuesday 00:00 CDT: closed, hence --force
    code = cli.main(["intraday", "--config", str(config), "--at", at.isoformat(), "--force"])
    out = capsys.readouterr().out
    assert code == 0 and f"intraday cycle at {at.isoformat()}: published" in out, out
    tuesday = _today(url)[fx.LINCOLN]
    assert (tuesday["as_of_at"], tuesday["local_date"]) == (at, DAY + dt.timedelta(days=1))
    assert tuesday["contacts_today"] == 0  # a new day: nothing yet
    later = DAY_END + dt.timedelta(minutes=10)  # Tuesday 00:09 CDT: outside service hours
    assert cli.main(["intraday", "--config", str(config), "--at", later.isoformat()]) == 0
    assert "no district is in its service hours" in capsys.readouterr().out


def test_stale_sources_block_the_publish(world):
    """The nightly gate's freshness check applies: no source loaded within its max lag (36 h)
    of the cycle, and today_status stays as it was."""
    url, cfg = world
    before = _today(url)
    late = DAY_END + dt.timedelta(hours=40)
    result = run_cycle(url, cfg, late, extract=False, force=True)
    assert result.status == "blocked"
    assert "sources.loaded_within_max_lag" in result.reason and "lincoln-zendesk" in result.reason
    assert _today(url) == before


def test_a_cycle_skips_while_the_nightly_runs(world):
    url, cfg = world
    lease.begin_nightly(url, "nightly-run-1", ttl=dt.timedelta(hours=1))
    try:
        result = run_cycle(url, cfg, DAY_END + dt.timedelta(hours=14), extract=False, force=True)
    finally:
        lease.end_nightly(url, "nightly-run-1")
    assert result.status == "skipped"
    assert "nightly run nightly-run-1 is running" in result.reason
    # an expired lease (a run killed without ending it) does not stop the intraday path
    lease.begin_nightly(url, "killed-run", ttl=dt.timedelta(seconds=-1))
    with psycopg.connect(url) as conn:
        assert lease.nightly_lease(conn) is None


def test_a_cycle_skips_while_another_cycle_holds_the_lock(world):
    url, cfg = world
    with psycopg.connect(url, autocommit=True) as other:
        other.execute("select pg_advisory_lock(%s)", (lease.PIPELINE_LOCK,))
        result = run_cycle(url, cfg, DAY_END + dt.timedelta(hours=15), extract=False, force=True)
    assert result.status == "skipped" and "another intraday cycle" in result.reason
    with psycopg.connect(url) as conn:
        assert conn.execute(
            "select status, reason from ops.intraday_cycles where cycle_at = %s",
            (DAY_END + dt.timedelta(hours=15),),
        ).fetchone() == ("skipped", result.reason)


def test_the_nightly_waits_for_a_running_cycle(world):
    url, _ = world
    held = threading.Event()

    def cycle_running():
        with lease.intraday_turn(url) as busy:
            assert busy is None
            held.set()
            time.sleep(2)

    t = threading.Thread(target=cycle_running)
    t.start()
    held.wait(10)
    started = time.monotonic()
    lease.begin_nightly(url, "nightly-run-2", ttl=dt.timedelta(hours=1), wait_seconds=30)
    waited = time.monotonic() - started
    t.join()
    lease.end_nightly(url, "nightly-run-2")
    assert waited >= 1.0  # it waited for the cycle, then took the lease
    # and gives up, naming why, when a cycle holds on longer than it may wait
    with lease.intraday_turn(url) as busy:
        assert busy is None
        with pytest.raises(lease.PipelineBusy, match="intraday cycle held the pipeline lock"):
            lease.begin_nightly(url, "nightly-run-3", ttl=dt.timedelta(hours=1), wait_seconds=1)
