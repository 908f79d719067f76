"""The quality gate end to end: GX over real built marts, then publish or block.

One warehouse and one GX project copy per module (GX's import alone costs seconds). Night 1 is
published first; each bad-data case rebuilds night 2, breaks it one way, and shows that the
gate names the failed expectation while `marts` stays byte-for-byte the same (checksums).
"""

from __future__ import annotations

import shutil

import psycopg
import pytest

from schoolcx.marts import MARTS
from schoolcx.paths import EXPECTATIONS_DIR, local_dir
from schoolcx.publish import marts_checksum, publish
from tests.fixture_marts import as_of, build_night, fixture_config, mark_source_stale

CFG = fixture_config()


@pytest.fixture(scope="module")
def gx_dirs(tmp_path_factory):
    """A copy of the committed GX project and a Data Docs folder, both private to the module."""
    root = tmp_path_factory.mktemp("gx")
    shutil.copy(EXPECTATIONS_DIR / "great_expectations.yml", root / "great_expectations.yml")
    return root, root / "data_docs"


@pytest.fixture(scope="module")
def gate(gx_dirs):
    from schoolcx.quality import run_gate

    root, docs = gx_dirs

    def run(url, night, run_id, cfg=CFG):
        return run_gate(url, cfg, run_id, as_of(night), context_dir=root, data_docs_dir=docs)

    return run


def _publish(url, night, result, cfg=CFG):
    return publish(url, cfg, result.run_id, as_of(night - 1), as_of(night), result)


@pytest.fixture(scope="module")
def wh(module_warehouse, gate):
    """The module's warehouse with night 1 validated and published."""
    build_night(module_warehouse, 1)
    result = gate(module_warehouse, 1, "night-1")
    assert result.passed, result.summary()
    assert _publish(module_warehouse, 1, result).published
    return module_warehouse


def test_good_night_passes_records_results_and_writes_data_docs(wh, gx_dirs):
    with psycopg.connect(wh) as conn:
        rows = conn.execute(
            "select suite, expectation, severity, relation, observed_value, passed"
            " from ops.gate_results where run_id = 'night-1'"
        ).fetchall()
        log = conn.execute(
            "select published, gate_passed, row_counts from ops.publish_log"
            " where run_id = 'night-1'"
        ).fetchall()
    names = {r[1] for r in rows}
    assert len(rows) == len(names) > 40
    assert all(r[5] for r in rows)
    assert {
        "fct_interactions.interaction_key.unique",
        "sources.loaded_within_max_lag",
        "fct_ratings.rating_1_5.within_1_5",
        "peer_benchmarks.k_min_districts",
        "fct_daily_volume.no_jump_vs_trailing_median",
    } <= names
    # every mart of the contract (schoolcx.marts) was validated
    assert {r[0] for r in rows} == {f"schoolcx.build.{m}" for m in MARTS}
    assert {"dim_district", "fct_interactions", "dim_school", "unit_mapping_coverage"} <= set(MARTS)
    assert log == [(True, True, log[0][2])] and log[0][2]["fct_interactions"] > 1000
    docs = gx_dirs[1]
    assert (docs / "index.html").is_file()
    pages = list((docs / "validations").rglob("*.html"))
    assert any("fct_interactions" in str(p) for p in pages)


def _dup_key(conn):
    conn.execute(
        "insert into build.fct_interactions"
        " select * from build.fct_interactions order by interaction_key limit 1"
    )


def _negative_business_minutes(conn):
    conn.execute(
        "update build.fct_interactions set first_response_business_minutes = -5"
        " where interaction_key = (select min(interaction_key)"
        " from build.fct_interactions where first_response_at is not null)"
    )


def _district_cliff(conn):
    # One district's extract lost 90% of its rows; facts and daily volume agree with it, and
    # the total over all districts falls by far less than the row-count threshold.
    conn.execute(
        "delete from build.fct_interactions where district_id = '4800003'"
        " and abs(hashtext(interaction_key)) % 10 <> 0"
    )
    conn.execute(
        "delete from build.fct_ratings r where district_id = '4800003' and not exists"
        " (select 1 from build.fct_interactions i"
        "  where i.interaction_key = r.interaction_key)"
    )
    conn.execute("""update build.fct_daily_volume v set interactions = coalesce(n, 0)
                    from (select d.local_date, (select count(*) from build.fct_interactions i
                          where i.district_id = '4800003' and i.local_date = d.local_date) n
                          from build.fct_daily_volume d where d.district_id = '4800003') c
                    where v.district_id = '4800003' and v.local_date = c.local_date""")


def _stale_source(conn):
    mark_source_stale(conn, "zd_4800002", as_of(2), hours=100)


def _rating_out_of_scale(conn):
    # a 1-10 rating that staging failed to normalise
    conn.execute(
        "update build.fct_ratings set rating_1_5 = 9, rating_scale = '1-10'"
        " where interaction_key = (select min(interaction_key) from build.fct_ratings)"
    )


def _response_before_creation(conn):
    conn.execute(
        "update build.fct_interactions set first_response_at = created_at"
        " - interval '1 hour' where interaction_key = (select max(interaction_key)"
        " from build.fct_interactions where first_response_at is not null)"
    )


def _peer_group_below_k(conn):
    conn.execute(
        "update build.peer_benchmarks set n_districts = 3"
        " where district_id = '4800001' and metric = 'feedback_score'"
    )


def _small_group_aggregates(conn):
    # suppressed, yet the aggregates of a 3-district group went out with it
    conn.execute(
        "update build.peer_benchmarks set n_districts = 3,"
        " suppression_reason = 'no_peer_group_meets_k'"
        " where district_id = '4800002' and metric = 'feedback_score'"
    )


BAD_NIGHTS = {
    "duplicate_key": (_dup_key, "fct_interactions.interaction_key.unique"),
    "negative_business_time": (
        _negative_business_minutes,
        "fct_interactions.first_response_business_minutes.non_negative",
    ),
    "district_volume_cliff": (_district_cliff, "fct_interactions.district_rows_vs_published"),
    "stale_source": (_stale_source, "sources.loaded_within_max_lag"),
    "rating_out_of_scale": (_rating_out_of_scale, "fct_ratings.rating_1_5.within_1_5"),
    "response_before_creation": (
        _response_before_creation,
        "fct_interactions.first_response_at.not_before_created_at",
    ),
    "peer_group_below_k": (_peer_group_below_k, "peer_benchmarks.k_min_districts"),
    "small_group_aggregates": (
        _small_group_aggregates,
        "peer_benchmarks.aggregates_only_for_k_districts",
    ),
}


@pytest.mark.parametrize("case", list(BAD_NIGHTS))
def test_bad_night_is_blocked_and_marts_unchanged(wh, gate, case):
    inject, expected = BAD_NIGHTS[case]
    before = marts_checksum(wh)
    build_night(wh, 2)
    with psycopg.connect(wh) as conn:
        inject(conn)
    run_id = f"bad-{case}"

    result = gate(wh, 2, run_id)
    outcome = _publish(wh, 2, result)

    assert not result.passed
    assert expected in [o.name for o in result.critical_failures], result.summary()
    assert expected in result.summary()
    assert not outcome.published and expected in outcome.blocked_by
    assert marts_checksum(wh) == before
    with psycopg.connect(wh) as conn:
        failed = conn.execute(
            "select severity, observed_value from ops.gate_results"
            " where run_id = %s and expectation = %s and not passed",
            (run_id, expected),
        ).fetchall()
        log = conn.execute(
            "select published, gate_passed, detail from ops.publish_log where run_id = %s",
            (run_id,),
        ).fetchall()
    assert failed and failed[0][0] == "critical" and failed[0][1]
    assert log and log[0][:2] == (False, False) and expected in log[0][2]


def test_failure_names_observed_values(wh, gate):
    build_night(wh, 2)
    with psycopg.connect(wh) as conn:
        _stale_source(conn)
        _dup_key(conn)
    result = gate(wh, 2, "bad-observed")
    by_name = {o.name: o for o in result.failures}
    stale = by_name["sources.loaded_within_max_lag"].observed_value
    assert "zd_4800002" in stale and "100.0" in stale  # the source and its lag in hours
    dup = by_name["fct_interactions.interaction_key.unique"].observed_value
    assert dup.startswith("2 unexpected")  # both copies of the key


def _spike(conn):
    conn.execute("""update build.fct_daily_volume set interactions = interactions * 30
                    where district_id = '4800005' and local_date = (
                        select max(local_date) from build.fct_daily_volume
                        where is_service_day)""")


def test_warning_publishes_and_is_reported(wh, gate):
    build_night(wh, 2)
    with psycopg.connect(wh) as conn:
        _spike(conn)
    before = marts_checksum(wh)

    result = gate(wh, 2, "warn-night-2")
    outcome = _publish(wh, 2, result)

    assert result.passed, result.summary()
    assert [o.name for o in result.warnings] == ["fct_daily_volume.no_jump_vs_trailing_median"]
    assert "4800005" in result.warnings[0].observed_value
    assert "[warning] fct_daily_volume.no_jump_vs_trailing_median" in result.summary()
    assert outcome.published and marts_checksum(wh) != before
    with psycopg.connect(wh) as conn:
        detail = conn.execute(
            "select detail from ops.publish_log where run_id = %s", ("warn-night-2",)
        ).fetchone()[0]
    assert "fct_daily_volume.no_jump_vs_trailing_median" in detail


def test_severity_comes_from_config(wh, gate):
    strict = fixture_config(severity={"volume_jump": "critical"})
    build_night(wh, 3)
    with psycopg.connect(wh) as conn:
        _spike(conn)
    result = gate(wh, 3, "strict-night-3", cfg=strict)
    assert not result.passed
    assert [o.name for o in result.critical_failures] == [
        "fct_daily_volume.no_jump_vs_trailing_median"
    ]


def test_next_good_night_publishes(wh, gate):
    before = marts_checksum(wh)
    build_night(wh, 3)
    result = gate(wh, 3, "night-3")
    outcome = _publish(wh, 3, result)
    assert result.passed and not result.failures, result.summary()
    assert outcome.published
    after = marts_checksum(wh)
    assert after != before and after == outcome.checksums


def test_missing_build_relation_blocks(wh, gate):
    build_night(wh, 4)
    with psycopg.connect(wh) as conn:
        conn.execute("drop table build.yoy_trends")
    result = gate(wh, 4, "missing-night-4")
    assert not result.passed
    assert "yoy_trends.exists" in [o.name for o in result.critical_failures]


def test_data_docs_dir_from_env_and_no_secrets_in_project(tmp_path, monkeypatch):
    from schoolcx.quality import context

    monkeypatch.setenv("SCHOOLCX_DATA_DOCS_DIR", str(tmp_path / "docs"))
    assert context.data_docs_dir() == (tmp_path / "docs").resolve()
    monkeypatch.delenv("SCHOOLCX_DATA_DOCS_DIR")
    assert context.data_docs_dir() == local_dir() / "data_docs"
    # the committed project file names no URL or folder, only substitutions
    text = (EXPECTATIONS_DIR / "great_expectations.yml").read_text()
    assert "connection_string: ${SCHOOLCX_WAREHOUSE_SQLA_URL}" in text
    assert "base_directory: ${SCHOOLCX_DATA_DOCS_DIR}" in text
    assert "postgresql://" not in text and "postgresql+psycopg://" not in text
