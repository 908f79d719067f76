"""End to end: the nightly DAG through Airflow (`schoolcx run`, `dag.test()`) on a generated
world served by the vendor emulators, dovecot and a CSV drop, into a real PostgreSQL; the
published marts are checked against figures computed in Python from the same world straight
from docs/metrics.md, and a rerun of the night changes nothing in `marts`."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import yaml

from schoolcx.publish import marts_checksum
from schoolcx.sandbox.demo.generator import generate_world, small_spec
from schoolcx.sandbox.demo.stack import DemoStack
from tests import reference_metrics as ref

# The module's first test builds a whole world (minutes); on `make test`'s two workers it may
# share the machine with another build, so it gets twice the suite's per-test hang guard.
pytestmark = pytest.mark.timeout(1200)


@pytest.fixture(scope="module")
def world():
    return generate_world(small_spec())


@pytest.fixture(scope="module")
def night(world, module_warehouse, tmp_path_factory):
    """Run the nightly DAG once for the world's as-of date; return what a test needs."""
    tmp = tmp_path_factory.mktemp("e2e")
    config = yaml.safe_load(world.config_yaml)
    for district in config["districts"]:  # drop folders under this test's tmp dir
        for source in district["sources"]:
            if source["type"] == "file_drop":
                source["options"]["path"] = str(tmp / "drop" / source["name"])
    config_path = tmp / "config.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    world.config_yaml = config_path.read_text()

    with DemoStack(world, tmp / "stack") as stack:
        env = {
            **os.environ,
            **stack.env,
            "WAREHOUSE_URL": module_warehouse,
            "SCHOOLCX_HOME": str(tmp / "home"),
            "SCHOOLCX_DATA_DOCS_DIR": str(tmp / "data_docs"),
        }
        cmd = [
            str(Path(sys.executable).parent / "schoolcx"),
            "run",
            "--config",
            str(config_path),
            "--start",
            str(world.as_of),
            "--end",
            str(world.as_of),
        ]

        def run_night() -> subprocess.CompletedProcess:
            return subprocess.run(
                cmd, env=env, capture_output=True, text=True, check=False, timeout=900
            )

        first = run_night()
        assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-6000:]
        checksums = marts_checksum(module_warehouse)
        second = run_night()
        assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-6000:]
        # The demo's rendering (one `dbt build` task) from scratch, with the quiet console:
        # it must publish the marts the per-model tasks did.
        as_demo = subprocess.run(
            [*cmd, "--full-refresh", "--quiet"],
            env={**env, "SCHOOLCX_DBT_TASKS": "build"},
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
        assert as_demo.returncode == 0, as_demo.stdout[-6000:] + as_demo.stderr[-3000:]
        demo_checksums = marts_checksum(module_warehouse)
        served_at = stack.served_at
    return {
        "served_at": served_at,
        "url": module_warehouse,
        "first": first,
        "second": second,
        "checksums": checksums,
        "as_demo": as_demo,
        "demo_checksums": demo_checksums,
        "cfg": ref.config_of(world),
        "tmp": tmp,
    }


def test_night_publishes_and_reports_counts(night):
    assert "success" in night["first"].stdout
    assert "published" in night["first"].stdout
    with psycopg.connect(night["url"]) as conn:
        published = conn.execute("select count(*) from ops.publish_log where published").fetchone()[
            0
        ]
        assert published == 3  # the night, its rerun, its rebuild as the demo renders it
        failed = conn.execute(
            "select count(*) from ops.extract_runs where status <> 'success'"
        ).fetchone()[0]
        assert failed == 0
    assert (night["tmp"] / "data_docs" / "index.html").exists()


def test_rerun_of_the_same_night_changes_nothing_in_marts(night):
    assert marts_checksum(night["url"]) == night["checksums"]


def test_one_dbt_build_task_publishes_the_marts_the_per_model_tasks_did(night):
    """SCHOOLCX_DBT_TASKS=build (`schoolcx demo`), rebuilt from scratch: same marts, row for
    row, as the nightly DAG's per-model tasks built incrementally."""
    assert night["demo_checksums"] == night["checksums"]


def test_a_quiet_run_shows_progress_and_leaves_the_logs_in_a_file(night):
    out = night["as_demo"].stdout + night["as_demo"].stderr
    (log,) = (night["tmp"] / "home" / "logs").glob("run-*.log")
    text = log.read_text()
    for noise in ("[DAG TEST]", "Task instance", "Running with dbt", "OK created sql"):
        assert noise not in out, noise
        assert noise in text, noise
    assert f"logs (Airflow, cosmos, dbt, GX): {log}" in out
    total = int(re.search(r"\d+ of (\d+) OK created sql", text).group(1))
    assert re.search(rf"transform\s.*{total}/{total}\s+dbt nodes", out), out
    assert re.search(r"extract\s.*\b(\d+)/\1\s+sources, [\d,]+ new records", out), out
    assert re.search(r"publish\s.*2/2\s+report written", out), out
    assert "published as of" in out  # the run summary, as before


def test_every_source_type_landed(night):
    with psycopg.connect(night["url"]) as conn:
        for table in (
            "zendesk_tickets",
            "freshdesk_tickets",
            "imap_messages",
            "qualtrics_responses",
            "surveymonkey_responses",
            "file_drop_rows",
        ):
            n = conn.execute(f"select count(*) from raw.{table}").fetchone()[0]
            assert n > 0, table


def test_interaction_counts_match_the_world(night, world):
    cfg = night["cfg"]
    with psycopg.connect(night["url"]) as conn:
        got = dict(
            conn.execute(
                "select district_id, count(*) from marts.fct_interactions group by 1"
            ).fetchall()
        )
    for district in cfg.districts:
        cal = ref.Calendar.for_district(district)
        first = min(i.created_at for i in world.interactions).astimezone(cal.zone).date()
        expected = ref.interactions_of(world, district.district_id, cal, first, world.as_of)
        assert got.get(district.district_id, 0) == len(expected), district.district_id


def test_scorecard_matches_reference(night, world):
    """Every scorecard row (school years, months, ISO weeks) against the reference, computed
    from the world straight from docs/metrics.md. A period still running is measured to the as-of
    date, and only from the date the district is observed (its sources' start_date)."""
    cfg = night["cfg"]
    with psycopg.connect(night["url"]) as conn:
        rows = conn.execute(
            "select district_id, period_type, period_start, period_end, interactions,"
            " median_first_response_business_minutes, p90_first_response_business_minutes,"
            " answered_share, sla_met_share, feedback_score, positive_share, rating_count,"
            " interactions_per_1000_students_per_service_day, high_risk_share, service_days"
            " from marts.district_scorecard"
        ).fetchall()
    assert {r[1] for r in rows} == {"school_year", "month", "week"}
    for row in rows:
        district_id, period_type, start, end = row[:4]
        where = (district_id, period_type, start)
        # the marts are as of the night's date: SLA targets not elapsed by then are undecided
        cal = ref.Calendar.for_district(cfg.district(district_id))
        expected = ref.district_scorecard(
            world, cfg, district_id, start, min(end, world.as_of), as_of=cal.end_of(world.as_of)
        )
        n, median, p90, answered, sla, score, positive, ratings, per_1000, high, days = row[4:]
        assert n == expected["interactions"], where
        assert days == expected["service_days"], where
        assert _close(median, expected["median_first_response_minutes"], 0.001), where
        assert _close(p90, expected["p90_first_response_minutes"], 0.001), where
        assert _close(answered, expected["answered_share"], 1e-9), where
        assert _close(sla, expected["sla_met_share"], 1e-9), where
        assert _close(score, expected["feedback_score"], 0), where
        assert _close(positive, expected["positive_share"], 1e-9), where
        assert ratings == expected["rating_count"], where
        assert _close(per_1000, expected["interactions_per_1000"], 1e-9), where
        assert _close(high, expected["high_risk_share"], 1e-9), where


def _close(got, expected, tol: float = 0.01) -> bool:
    if got is None or expected is None:
        return got is None and expected is None
    return abs(float(got) - float(expected)) <= tol


def test_as_of_is_the_run_date(night, world):
    with psycopg.connect(night["url"]) as conn:
        last = conn.execute("select max(local_date) from marts.fct_daily_volume").fetchone()[0]
    assert last == world.as_of
    assert isinstance(last, dt.date)


def _source_id_number(source_system: str, source_id: str) -> int:
    """The world's interaction id inside a mart source_id: helpdesk ticket ids as they are, an
    email thread's root Message-ID `i<id>.0@domain`, a file-drop row its own `<id>` (or
    `<file>:<row number>` when the file has no id column)."""
    if source_system == "imap":
        return int(re.match(r"i(\d+)\.", source_id).group(1))
    if source_system == "file_drop":
        return int(source_id.rsplit(":", 1)[-1])
    return int(source_id)


def test_every_interaction_matches_reference(night, world):
    """Per interaction, not only per district: first response and resolution instants, their
    business and calendar minutes, priority and high risk, against the reference on the world as
    the vendors served it (the run's end, 08:00 UTC the next morning)."""
    cfg = night["cfg"]
    types = {s.name: s.type for _, s in cfg.sources()}
    with psycopg.connect(night["url"]) as conn:
        rows = conn.execute(
            "select source_system, source_instance, source_id, created_at, first_response_at,"
            " resolved_at, first_response_business_minutes, first_response_calendar_minutes,"
            " resolution_business_minutes, priority, high_risk from marts.fct_interactions"
        ).fetchall()
    mart = {(r[1], _source_id_number(r[0], r[2])): r for r in rows}
    seen = night["served_at"]
    checked = 0
    for i in world.interactions:
        district = cfg.district(i.district_id)
        cal = ref.Calendar.for_district(district)
        if cal.local_date(i.created_at) > world.as_of:
            continue
        row = mart.pop((i.source_name, i.interaction_id))
        where = f"{i.source_name} #{i.interaction_id}"
        assert row[3] == i.created_at, where
        first = ref.first_response_at(i, seen)
        assert row[4] == first, where
        # email threads' resolution is not observable; a file drop states its own
        resolved = ref.resolved_at(i, seen) if types[i.source_name] != "imap" else None
        assert row[5] == resolved, where
        if first is not None:
            assert _close(row[6], cal.business_minutes(i.created_at, first), 0.0001), where
            assert _close(row[7], ref.calendar_minutes(i.created_at, first), 0.0001), where
        if resolved is not None:
            assert _close(row[8], cal.business_minutes(i.created_at, resolved), 0.0001), where
        risky = ref.is_high_risk(i, district, types[i.source_name])
        assert row[10] == risky, where
        assert row[9] == ref.effective_priority(i, risky), where
        checked += 1
    assert not mart, f"mart rows with no interaction in the world: {sorted(mart)[:5]}"
    assert checked == len(rows)


def test_survey_items_match_reference(night, world):
    cfg = night["cfg"]
    with psycopg.connect(night["url"]) as conn:
        got = {
            (d, y, item): float(pct)
            for d, y, item, pct in conn.execute(
                "select district_id, school_year, item_code, percent_agree"
                " from marts.fct_survey_item_results"
            )
        }
    expected = {
        (d.district_id, year, item): pct
        for d in cfg.districts
        for year in {y for _, y, _ in got}
        for item, pct in ref.percent_agree(world, cfg, d.district_id, year).items()
    }
    assert expected
    assert got.keys() == expected.keys()
    for key, pct in expected.items():
        assert _close(got[key], pct, 0.0001), key


def test_daily_volume_matches_reference(night, world):
    cfg = night["cfg"]
    with psycopg.connect(night["url"]) as conn:
        rows = conn.execute(
            "select district_id, local_date, interactions_per_1000_students"
            " from marts.fct_daily_volume"
        ).fetchall()
    by_district: dict[str, dict[dt.date, float]] = {}
    for district_id, day, per_1000 in rows:
        by_district.setdefault(district_id, {})[day] = float(per_1000)
    for district_id, days in by_district.items():
        expected = ref.daily_volume_per_1000(world, cfg, district_id, min(days), max(days))
        assert days.keys() == expected.keys(), district_id
        for day, value in expected.items():
            assert _close(days[day], value, 0.0001), (district_id, day)
