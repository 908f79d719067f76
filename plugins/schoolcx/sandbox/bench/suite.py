"""`make bench` in one run: every measure beside its ceiling or floor (issue 19).

    python -m schoolcx.sandbox.bench [--records N] [--scales S,M] [--out PATH]

Steps, each in its own process (so each peak RSS is its own, and a failure keeps the rest):

1. extraction end to end from the Zendesk emulator at N/10 and N records (bench.extract):
   records/s, where the time goes, and peak RSS at both volumes (flat: their ratio near 1);
2. the raw writer against a plain COPY of the same rows into the same server (bench.load);
3. per scale, the dbt benchmark (bench.dbt): full build and one night against the count(*)
   scan floor over raw, the business-time microbenchmark, the intraday cycle, dbt's peak RSS.

Writes `.local/bench/results.json` (machine, date, git rev, each measure with its value, unit,
ceiling or floor, ratio, aim and whether it is met, and where the time goes) and prints the
table; `python -m schoolcx.sandbox.bench.docs` renders it into docs/benchmarks.md.
BENCH_RECORDS and BENCH_SCALES (e.g. S:4, a reduced S of its last 4 school weeks) are the
defaults of --records and --scales.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from schoolcx.sandbox.bench.measures import Aim, Measure, counts, text_table

EXTRACT_AIM_RECORDS_PER_S = 25_000
WRITER_AIM_SHARE_OF_COPY = 0.5
FULL_BUILD_AIM_S = 120  # at S
NIGHT_AIM_SHARE_OF_FULL = 0.10
NIGHT_AIM_AT_M_S = 60
BUSINESS_TIME_AIM_S = 10  # for 1M interactions
INTRADAY_AIM_AT_M_S = 60
FLAT_MEMORY_AIM = 1.25  # peak RSS at the larger volume over the smaller one
DBT_MEMORY_AIM = 1.5  # dbt's peak RSS at M over S (M is ten times the data)
DISK_AIM_AT_M_GB = 40  # a full school year of M on this machine


def machine() -> dict:
    from schoolcx.paths import local_dir

    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
    home = local_dir()
    home.mkdir(parents=True, exist_ok=True)
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "ram_gb": round(mem_kb / 1024**2, 1),
        "disk_free_gb": round(shutil.disk_usage(home).free / 1024**3, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def git_rev() -> str | None:
    from schoolcx.paths import PROJECT_ROOT

    done = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
    )
    dirty = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    rev = done.stdout.strip() or None
    return f"{rev}+uncommitted" if rev and dirty else rev


def records_label(n: int) -> str:
    return f"{n // 1_000_000}M records" if n % 1_000_000 == 0 else f"{n // 1000}k records"


# ---- measures from each step's JSON ------------------------------------------------------


def extract_measures(small: dict | None, large: dict | None, load: dict | None) -> list[Measure]:
    out = []
    if large:
        split = large.get("split_s") or {}
        note = (
            f"of {large['seconds']:.0f} s: writer (encode, COPY, insert, commit) "
            f"{split.get('writer_s', 0):.0f} s; connector waiting for the next page (HTTP and "
            f"parsing, one page read ahead) {split.get('connector_wait_s', 0):.0f} s. CPU: "
            f"this process (connector and writer) {split.get('client_cpu_s', 0):.0f} s, the "
            f"writer's PostgreSQL backend {split.get('postgres_backend_cpu_s', 0):.0f} s, the "
            f"emulator {split.get('emulator_cpu_s', 0):.0f} s"
        )
        out.append(
            Measure(
                "extract.records_per_s",
                "extraction end to end (emulator to raw)",
                round(large["records_per_s"]),
                "records/s",
                records_label(large["n_records"]),
                load and load["copy_rows_per_s"],
                "ceiling" if load else None,
                "plain COPY rows/s",
                Aim(">=", EXTRACT_AIM_RECORDS_PER_S),
                note,
                {"split_s": split},
            )
        )
    if small and large:
        out.append(
            Measure(
                "extract.peak_rss",
                "extraction peak RSS (larger volume over smaller)",
                round(large["sampled_peak_rss_mb"]),
                "MB",
                records_label(large["n_records"]),
                round(small["sampled_peak_rss_mb"]),
                "reference",
                f"at {records_label(small['n_records'])}",
                Aim("<=", FLAT_MEMORY_AIM, on="ratio"),
                "flat: pages stream through; nothing is held across pages",
            )
        )
    if load:
        out.append(
            Measure(
                "load.writer_rows_per_s",
                "raw writer vs plain COPY",
                load["writer_rows_per_s"],
                "rows/s",
                f"{load['rows'] // 1000}k rows",
                load["copy_rows_per_s"],
                "ceiling",
                "plain COPY rows/s",
                Aim(">=", WRITER_AIM_SHARE_OF_COPY, on="ratio"),
                "beyond COPY: encoding, the person hash and packing (the ceiling COPYs rows"
                " already packed), the landing table's insert that skips versions already"
                " landed and empties the one a new version supersedes, the state and run"
                " counters",
            )
        )
    return out


def _slowest(run: dict, top: int = 5) -> str:
    parts = []
    for n in run.get("slowest", [])[:top]:
        name = n["node"].split(".", 2)[-1]
        parts.append(f"{name} {n['seconds']:.1f} s")
    return (
        f"models {run.get('model_seconds_sum')} s, tests {run.get('test_seconds_sum')} s of node"
        f" time; slowest: {', '.join(parts)}"
    )


def _base_scale(name: str) -> str:
    return name.split("-", 1)[0]


def dbt_measures(scales: dict[str, dict]) -> list[Measure]:
    out = []
    for name, r in scales.items():
        if "full" not in r:
            out.append(
                Measure(
                    f"transform.full_build.{name}",
                    "dbt full build",
                    None,
                    "s",
                    name,
                    note=f"failed: {r.get('error', '?')[:300]}",
                )
            )
            continue
        full = r["full"]["seconds"]
        floor = round(sum(c["seconds"] for c in r["scan_floor"].values()), 2)
        base = _base_scale(name)
        floor_label = "count(*) over raw, s"
        out.append(
            Measure(
                f"transform.full_build.{name}",
                f"dbt full build ({r['interactions']:,} interactions)",
                full,
                "s",
                name,
                floor,
                "floor",
                floor_label,
                Aim("<", FULL_BUILD_AIM_S, scale="S"),
                _slowest(r["full"]),
            )
        )
        if "incremental" in r:
            night = r["incremental"]["seconds"]
            out.append(
                Measure(
                    f"transform.night_share.{name}",
                    "one night's incremental, share of the full build",
                    night,
                    "s",
                    name,
                    full,
                    "reference",
                    "full build, s",
                    Aim("<", NIGHT_AIM_SHARE_OF_FULL, on="ratio", scale=base),
                    _slowest(r["incremental"]),
                )
            )
            out.append(
                Measure(
                    f"transform.night.{name}",
                    "one night's incremental",
                    night,
                    "s",
                    name,
                    floor,
                    "floor",
                    floor_label,
                    Aim("<", NIGHT_AIM_AT_M_S, scale="M"),
                )
            )
        b = r.get("business_time")
        if b:
            out.append(
                Measure(
                    f"business_time.{name}",
                    f"business minutes of {b['pairs']:,} interactions",
                    b["seconds_best"],
                    "s",
                    name,
                    aim=Aim("<", BUSINESS_TIME_AIM_S, scale=None if b["pairs"] >= 1e6 else "1M"),
                    note=f"best of 3; median {b['seconds_median']} s",
                )
            )
        cycle = (r.get("intraday") or {}).get("cycle")
        skipped = (r.get("intraday") or {}).get("skipped")
        if skipped:  # the disk held the nightly path only: value None, the reason beside it
            out.append(
                Measure(
                    f"intraday.cycle.{name}",
                    "intraday cycle over a whole night of new records",
                    None,
                    "s",
                    name,
                    aim=Aim("<", INTRADAY_AIM_AT_M_S, scale="M"),
                    note=skipped,
                )
            )
        if cycle:
            fixed = r["intraday"].get("next") or {}
            out.append(
                Measure(
                    f"intraday.cycle.{name}",
                    "intraday cycle over a whole night of new records",
                    cycle["seconds"],
                    "s",
                    name,
                    fixed.get("seconds"),
                    "reference",
                    "a cycle with nothing new, s",
                    Aim("<", INTRADAY_AIM_AT_M_S, scale="M"),
                    f"steps {cycle.get('steps')}",
                )
            )
        disk = disk_measure(name, r)
        if disk:
            out.append(disk)
        rss = r.get("peak_rss_mb") or {}
        if rss.get("largest_child"):
            out.append(
                Measure(
                    f"memory.dbt.{name}",
                    "peak RSS of the dbt children",
                    rss["largest_child"],
                    "MB",
                    name,
                    note=f"the bench process itself {rss.get('self')} MB",
                )
            )
    dbt_rss = {
        _base_scale(n): r["peak_rss_mb"]["largest_child"]
        for n, r in scales.items()
        if (r.get("peak_rss_mb") or {}).get("largest_child")
    }
    if "S" in dbt_rss and "M" in dbt_rss:
        out.append(
            Measure(
                "memory.dbt.M_over_S",
                "dbt peak RSS, M over S",
                dbt_rss["M"],
                "MB",
                "M",
                dbt_rss["S"],
                "reference",
                "at S, MB",
                Aim("<=", DBT_MEMORY_AIM, on="ratio"),
                "flat: the data stays in PostgreSQL; dbt holds the manifest and results",
            )
        )
    return out


def disk_measure(name: str, r: dict) -> Measure | None:
    """The warehouse's disk at its peak while the scale ran, beside its size after the night,
    with the split after the night and the size per student-year (what scaling.md scales)."""
    peak = r.get("disk_peak") or {}
    after = r.get("size_after_night") or {}
    if not peak.get("peak_mb"):
        return None
    note = f"peak during {peak.get('phase')}: {peak.get('split_mb')}"
    if not peak.get("server_files"):
        note += " (the server refused pg_ls_tmpdir/pg_ls_waldir: database files only)"
    if after:
        years = student_years(r)
        per = f"; {after['database_mb'] / years:.2f} MB per student-year" if years else ""
        note += f"; after the night {after.get('schema_mb')} MB{per}"
    return Measure(
        f"disk.peak.{name}",
        "warehouse disk at its peak while the scale ran",
        round(peak["peak_mb"] / 1024, 1),
        "GB",
        name,
        round(after["database_mb"] / 1024, 1) if after else None,
        "reference",
        "after the night, GB",
        Aim("<=", DISK_AIM_AT_M_GB, scale="M"),
        note,
    )


def student_years(r: dict) -> float | None:
    """Students times the share of a school year the scale covers."""
    from schoolcx.sandbox.bench.dbt.scales import school_years

    if not (r.get("students") and r.get("first_day") and r.get("last_day")):
        return None
    first, last = (dt.date.fromisoformat(r[k]) for k in ("first_day", "last_day"))
    return r["students"] * school_years(first, last)


# ---- running the steps ------------------------------------------------------------------


def _step(say, label: str, cmd: list[str], json_path: Path) -> dict | None:
    """Run one benchmark step in its own process (its output passes through); its JSON."""
    say(f"{label}: {' '.join(cmd[2:])}")
    started = time.monotonic()
    json_path.unlink(missing_ok=True)
    done = subprocess.run(cmd)
    seconds = time.monotonic() - started
    if not json_path.exists():
        say(f"{label}: FAILED (exit {done.returncode}) after {seconds:.0f} s")
        return None
    say(f"{label}: done in {seconds:.0f} s")
    return json.loads(json_path.read_text())


def _reused(say, label: str, json_path: Path) -> dict | None:
    """An earlier run's result of one dbt scale (`python -m schoolcx.sandbox.bench.dbt --scale M
    --out <json_path>`), as if this run had made it; None (a failed step) when it is missing."""
    if not json_path.exists():
        say(f"{label}: FAILED: reused, but {json_path} is missing (run that scale first)")
        return None
    got = json.loads(json_path.read_text())
    say(f"{label}: reused from {json_path} ({got.get('started', 'undated')})")
    return got


def main(argv: list[str] | None = None) -> int:
    from schoolcx.paths import local_dir
    from schoolcx.settings import apply_defaults

    parser = argparse.ArgumentParser(prog="python -m schoolcx.sandbox.bench", description=__doc__)
    parser.add_argument(
        "--records", type=int, default=int(os.environ.get("BENCH_RECORDS") or 1_000_000)
    )
    parser.add_argument("--scales", default=os.environ.get("BENCH_SCALES") or "S,M")
    parser.add_argument(
        "--reuse",
        default=os.environ.get("BENCH_REUSE") or "",
        help="scales (of --scales) read from their dbt-<scale>.json of an earlier run instead of"
        " run again: a year of M takes about two hours, started on its own first",
    )
    parser.add_argument("--load-rows", type=int, default=None, help="default: min(records, 100k)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--reassemble",
        action="store_true",
        help="run nothing: recompute the measures of the results file from its measurements",
    )
    args = parser.parse_args(argv)
    apply_defaults()
    os.environ.setdefault("SCHOOLCX_HASH_KEY", "bench-only-hash-key")
    workdir = local_dir() / "bench"
    workdir.mkdir(parents=True, exist_ok=True)
    out_path = args.out or workdir / "results.json"
    if args.reassemble:
        results = assemble(json.loads(out_path.read_text()))
        out_path.write_text(json.dumps(results, indent=2, default=str))
        print_table(results, out_path)
        return 0
    t0 = time.monotonic()
    scales = [s.strip() for s in args.scales.split(",") if s.strip()]
    reuse = {s.strip() for s in args.reuse.split(",") if s.strip()}
    n_steps = 3 + len(scales)
    step = iter(range(1, n_steps + 1))

    def say(msg: str) -> None:
        print(f"[bench {time.monotonic() - t0:6.0f}s] {msg}", file=sys.stderr, flush=True)

    py = [sys.executable, "-m"]
    results = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_rev": git_rev(),
        "machine": machine(),
        "run": {"records": args.records, "scales": scales, "reused": sorted(reuse & set(scales))},
    }
    small_n = max(args.records // 10, 1_000)
    extract = {}
    for n in (small_n, args.records):
        path = workdir / f"extract-{n}.json"
        extract[n] = _step(
            say,
            f"step {next(step)}/{n_steps} extraction of {n:,} records",
            [*py, "schoolcx.sandbox.bench.extract", str(n), "--json", str(path)],
            path,
        )
    load_rows = args.load_rows or min(args.records, 100_000)
    path = workdir / "load.json"
    load = _step(
        say,
        f"step {next(step)}/{n_steps} raw writer vs plain COPY, {load_rows:,} rows",
        [*py, "schoolcx.sandbox.bench.load", str(load_rows), "--json", str(path)],
        path,
    )
    dbt_scales: dict[str, dict] = {}
    for scale in scales:
        path = workdir / f"dbt-{scale.replace(':', '-')}.json"
        if scale in reuse:
            got = _reused(say, f"step {next(step)}/{n_steps} dbt at scale {scale}", path)
        else:
            got = _step(
                say,
                f"step {next(step)}/{n_steps} dbt at scale {scale}",
                [*py, "schoolcx.sandbox.bench.dbt", "--scale", scale, "--out", str(path)],
                path,
            )
        dbt_scales.update((got or {}).get("scales") or {scale: {"error": "the step failed"}})
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["seconds"] = round(time.monotonic() - t0)
    results["details"] = {
        "extract": {"small": extract[small_n], "large": extract[args.records]},
        "load": load,
        "dbt": dbt_scales,
    }
    assemble(results)
    out_path.write_text(json.dumps(results, indent=2, default=str))
    print_table(results, out_path)
    failed = [n for n, r in dbt_scales.items() if "error" in r]
    if failed or load is None or None in extract.values():
        say(f"some steps failed (dbt scales: {failed or 'none'}); their measures are empty")
        return 1
    return 0


def assemble(results: dict) -> dict:
    """The measures and their counts, from the steps' measurements in results["details"]."""
    d = results["details"]
    measures = [
        *extract_measures(d["extract"]["small"], d["extract"]["large"], d["load"]),
        *dbt_measures(d["dbt"]),
    ]
    results["measures"] = [m.as_dict() for m in measures]
    results["counts"] = counts(results["measures"])
    return results


def print_table(results: dict, out_path: Path) -> None:
    print()
    print(text_table(results["measures"]))
    c = results["counts"]
    print(
        f"\n{c['measures']} measures: {c['met']} met their aim, {c['not_met']} not met, "
        f"{c['n/a']} with no aim at this scale; results: {out_path}"
    )
