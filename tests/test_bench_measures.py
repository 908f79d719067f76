"""The bench's ratios and aims, and its results rendered into docs/benchmarks.md (no timing:
the values are made up, the logic is what is checked)."""

from __future__ import annotations

import json

import pytest

from schoolcx.sandbox.bench import docs, suite
from schoolcx.sandbox.bench.measures import Aim, Measure, counts


def test_ratio_and_aims_on_value_and_on_ratio():
    writer = Measure("w", "writer", 6_000, "rows/s", baseline=10_000, aim=Aim(">=", 0.5, "ratio"))
    assert writer.ratio == pytest.approx(0.6) and writer.met is True
    slow = Measure("w", "writer", 4_000, "rows/s", baseline=10_000, aim=Aim(">=", 0.5, "ratio"))
    assert slow.met is False
    build = Measure("b", "full build", 130.0, "s", "S", 2.0, "floor", aim=Aim("<", 120, scale="S"))
    assert build.ratio == pytest.approx(65) and build.met is False
    # an aim set for the full S is not judged at a reduced S, nor without a value or baseline
    assert Measure("b", "x", 30.0, "s", "S-4w", aim=Aim("<", 120, scale="S")).met is None
    assert Measure("b", "x", None, "s", aim=Aim("<", 120)).met is None
    assert Measure("r", "x", 1.0, "s", aim=Aim("<", 0.1, "ratio")).met is None
    with pytest.raises(ValueError):
        Aim("=", 1)


def test_counts_and_the_markdown_page(tmp_path):
    extract = {
        "n_records": 100_000,
        "records_per_s": 30_000.0,
        "seconds": 3.3,
        "sampled_peak_rss_mb": 110.0,
        "split_s": {"writer_s": 2.5, "connector_wait_s": 0.5, "emulator_cpu_s": 1.0},
    }
    small = {**extract, "n_records": 10_000, "sampled_peak_rss_mb": 100.0}
    load = {"rows": 100_000, "writer_rows_per_s": 20_000, "copy_rows_per_s": 50_000}
    scale = {
        "interactions": 50_000,
        "scan_floor": {"raw.a": {"rows": 1, "seconds": 0.5}, "raw.b": {"rows": 1, "seconds": 1.5}},
        "full": {"seconds": 100.0, "slowest": [{"node": "model.schoolcx.fct_x", "seconds": 9.0}]},
        "incremental": {"seconds": 20.0, "slowest": []},
        "business_time": {"pairs": 1_000_000, "seconds_best": 1.5, "seconds_median": 1.6},
        "intraday": {"cycle": {"seconds": 30.0, "steps": {}}, "next": {"seconds": 10.0}},
        "peak_rss_mb": {"self": 90, "largest_child": 400},
    }
    measures = [
        m.as_dict()
        for m in suite.extract_measures(small, extract, load)
        + suite.dbt_measures({"S": scale, "M-12w": {"error": "RuntimeError: disk"}})
    ]
    by_key = {m["key"]: m for m in measures}
    assert by_key["extract.records_per_s"]["met"] is True  # 30,000 >= 25,000
    assert by_key["extract.peak_rss"]["ratio"] == pytest.approx(1.1)
    assert by_key["load.writer_rows_per_s"]["ratio"] == pytest.approx(0.4)
    assert by_key["load.writer_rows_per_s"]["met"] is False
    full = by_key["transform.full_build.S"]
    assert full["baseline"] == 2.0 and full["ratio"] == pytest.approx(50) and full["met"] is True
    assert "fct_x 9.0 s" in full["note"]
    assert by_key["transform.night_share.S"]["met"] is False  # 20 % of the full build
    assert by_key["transform.night.S"]["met"] is None  # the 60 s aim is M's
    assert by_key["intraday.cycle.S"]["met"] is None
    assert by_key["transform.full_build.M-12w"]["value"] is None
    c = counts(measures)
    assert c == {"measures": len(measures), "met": 4, "not_met": 2, "n/a": len(measures) - 6}

    results = {
        "date": "2026-12-05T21:00:00+00:00",
        "git_rev": "abc1234",
        "machine": {"cpus": 2, "cpu_model": "AMD EPYC", "ram_gb": 8.0, "disk_free_gb": 50.0},
        "run": {"records": 100_000, "scales": ["S:4"]},
        "measures": measures,
    }
    src, dst = tmp_path / "results.json", tmp_path / "benchmarks.md"
    src.write_text(json.dumps(results))
    docs.main([str(src), str(dst)])
    page = dst.read_text()
    assert "2026-12-05T21:00:00+00:00" in page and "`abc1234`" in page
    assert "**reduced run**: 100,000 extracted records; dbt scales S:4" in page
    assert "2 CPUs (AMD EPYC), 8.0 GB RAM" in page
    assert f"{len(measures)} measures: 4 met their aim, 2 not met" in page
    row = next(line for line in page.splitlines() if line.startswith("| raw writer vs plain COPY"))
    assert row.split(" | ")[4:] == ["40%", ">= 50%", "NOT met |"]
    assert "failed: RuntimeError: disk" in page


def test_an_intraday_cycle_left_out_for_disk_is_a_row_with_its_reason():
    scale = {
        "interactions": 50_000,
        "scan_floor": {"raw.a": {"rows": 1, "seconds": 0.5}},
        "full": {"seconds": 100.0, "slowest": []},
        "incremental": {"seconds": 20.0, "slowest": []},
        "intraday": {"skipped": "not run: with the intraday path's own copies M needs about 9 GB"},
    }
    (cycle,) = [
        m.as_dict() for m in suite.dbt_measures({"M": scale}) if m.key == "intraday.cycle.M"
    ]
    assert cycle["value"] is None and cycle["met"] is None
    assert cycle["note"].startswith("not run: with the intraday path's own copies M")


def test_the_disk_peak_is_judged_at_m_against_40_gb_with_its_split():
    def scale(students, last_day, peak_mb):
        return {
            "students": students,
            "first_day": "2025-08-18",
            "last_day": last_day,
            "disk_peak": {
                "peak_mb": peak_mb,
                "phase": "full build",
                "split_mb": {"database": peak_mb - 100, "temp_files": 60, "wal": 40},
                "server_files": True,
            },
            "size_after_night": {"database_mb": 42_000, "schema_mb": {"raw": 21_000}},
        }

    # M's full year (2025-08-18 .. 2026-06-04 is over 42 weeks: one school year) in 45 GB
    m = suite.disk_measure("M", scale(100_000, "2026-06-04", 45 * 1024)).as_dict()
    assert m["value"] == 45.0 and m["baseline"] == pytest.approx(41.0, abs=0.05)
    assert m["met"] is False and m["aim"]["text"] == "<= 40 GB at M"
    assert m["note"].startswith("peak during full build: {'database': 45980")
    assert "0.42 MB per student-year" in m["note"]  # 42,000 MB / 100,000 student-years
    # three weeks of S: 10,000 x 3/42 student-years
    s = suite.disk_measure("S-3w", scale(10_000, "2025-09-07", 2048)).as_dict()
    assert s["met"] is None  # the aim is M's
    assert f"{42_000 / (10_000 * 3 / 42):.2f} MB per student-year" in s["note"]
    assert suite.disk_measure("S", {}) is None


def test_a_scale_run_earlier_on_its_own_is_reused_not_run_again(tmp_path, monkeypatch, capsys):
    """`--reuse M`: the year of M, run first on its own (two hours), joins the table of a later
    `make bench` as if that run had made it; a missing one is a failed step, not a silent gap."""
    import json

    monkeypatch.setenv("SCHOOLCX_HOME", str(tmp_path))
    bench = tmp_path / "bench"
    bench.mkdir()
    earlier = {
        "started": "2026-12-06T00:10:00+00:00",
        "scales": {
            "M": {
                "interactions": 9_000_000,
                "scan_floor": {"raw.a": {"rows": 1, "seconds": 2.0}},
                "full": {"seconds": 3000.0, "slowest": []},
            }
        },
    }
    (bench / "dbt-M.json").write_text(json.dumps(earlier))
    ran = []
    monkeypatch.setattr(suite, "_step", lambda say, label, cmd, path: ran.append(cmd) or None)
    out = tmp_path / "results.json"
    code = suite.main(["--records", "1000", "--scales", "S:1,M", "--reuse", "M", "--out", str(out)])
    results = json.loads(out.read_text())
    assert code == 1  # the stubbed steps (extraction, load, S:1) made nothing
    assert not any("schoolcx.sandbox.bench.dbt" in c and "M" in c for c in ran)
    assert any(c[2:5] == ["schoolcx.sandbox.bench.dbt", "--scale", "S:1"] for c in ran)
    assert results["run"]["reused"] == ["M"]
    assert results["details"]["dbt"]["M"]["full"]["seconds"] == 3000.0
    assert "reused from" in capsys.readouterr().err
    from schoolcx.sandbox.bench.docs import scale_label

    assert "(M from an earlier run of its own)" in scale_label(results["run"])
    assert scale_label(results["run"]).startswith("**reduced run**")  # 1,000 records, S:1
    full = {"records": 1_000_000, "scales": ["S", "M"], "reused": ["M", "S"]}
    assert scale_label(full).startswith("full run: 1,000,000 extracted records; dbt scales S, M")
    (bench / "dbt-M.json").unlink()
    suite.main(["--records", "1000", "--scales", "M", "--reuse", "M", "--out", str(out)])
    assert json.loads(out.read_text())["details"]["dbt"]["M"] == {"error": "the step failed"}
