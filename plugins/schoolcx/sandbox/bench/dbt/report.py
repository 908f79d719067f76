"""The results table on stdout, and the summaries of runs it is built from."""

from __future__ import annotations

import sys

from schoolcx.sandbox.bench.dbt.timing import DbtRun


def _model_table(full: DbtRun, incr: DbtRun, top: int = 15) -> list[dict]:
    rows = []
    for uid in set(full.nodes) | set(incr.nodes):
        f, i = full.nodes.get(uid, {}), incr.nodes.get(uid, {})
        kind = uid.split(".")[0]
        name = uid.split(".", 2)[2]
        if kind == "test":
            name = name.rsplit(".", 1)[0]  # without the hash suffix
        rows.append(
            {
                "node": name if kind in ("model", "seed") else f"{kind}: {name}",
                "kind": (f or i).get("kind"),
                "materialized": (f or i).get("materialized"),
                "full_s": f.get("seconds"),
                "incremental_s": i.get("seconds"),
                "rows_full": f.get("rows") if kind == "model" else None,
                "rows_incremental": i.get("rows") if kind == "model" else None,
            }
        )
    rows.sort(key=lambda r: -max(r["full_s"] or 0, r["incremental_s"] or 0))
    return rows[:top]


# Models whose cost is reported by name whether or not they are among the slowest: the service
# health models (issue 18): fct_backlog_daily's night cost, and the full build's growth.
WATCHED_MODELS = (
    "fct_backlog_daily",
    "int_interaction_backlog_spans",
    "rating_drivers",
)


def _watched(full: DbtRun, incr: DbtRun) -> dict:
    """Each watched model's full and incremental seconds and rows, and their share of the full
    build's model time (the growth they cause)."""
    out: dict = {"models": {}}
    for uid in set(full.nodes) | set(incr.nodes):
        name = uid.split(".", 2)[2] if uid.startswith("model.") else None
        if name in WATCHED_MODELS:
            f, i = full.nodes.get(uid, {}), incr.nodes.get(uid, {})
            out["models"][name] = {
                "full_s": f.get("seconds"),
                "incremental_s": i.get("seconds"),
                "rows_full": f.get("rows"),
                "rows_incremental": i.get("rows"),
            }
    model_full = sum(n["seconds"] for n in full.nodes.values() if n["kind"] == "model")
    watched_full = sum(m["full_s"] or 0 for m in out["models"].values())
    out["full_model_seconds_share"] = round(watched_full / model_full, 4) if model_full else None
    return out


def _run_summary(run: DbtRun, interactions: int) -> dict:
    slowest = sorted(run.nodes.items(), key=lambda kv: -kv[1]["seconds"])[:10]
    by_kind: dict[str, float] = {}
    for node in run.nodes.values():
        by_kind[node["kind"]] = by_kind.get(node["kind"], 0.0) + node["seconds"]
    return {
        "seconds": round(run.seconds, 1),
        "node_seconds_sum": run.node_seconds,
        # node seconds overlap (dbt runs 4 threads); their split says where the time goes
        "model_seconds_sum": round(by_kind.get("model", 0.0), 1),
        "test_seconds_sum": round(by_kind.get("test", 0.0), 1),
        "interactions_per_s": round(interactions / run.seconds),
        "statuses": run.statuses,
        "project": run.project,
        "errors": run.errors,
        "slowest": [{"node": uid, **n} for uid, n in slowest],
    }


def _fmt_s(v) -> str:
    return "-" if v is None else f"{v:.1f}"


def report(results: dict, out=sys.stdout) -> None:
    p = lambda s="": print(s, file=out)  # noqa: E731
    for name, r in results["scales"].items():
        if "incremental_over_full" not in r:
            p(f"\n== scale {name}: incomplete: {r.get('error', '?')[:500]}")
            continue
        p()
        p(
            f"== scale {name}: {r['districts']} district(s), {r['students']:,} students, "
            f"{r['first_day']} .. {r['last_day']} (+ night {r['night_day']}) =="
        )
        if r.get("pg_options"):
            p(f"!! diagnostic variant: dbt ran with PGOPTIONS={r['pg_options']!r}")
        if r.get("warning"):
            p(f"!! {r['warning']}")
        g = r["generation"]
        if g.get("resumed_from"):  # the landing was an earlier run's, not timed here
            p(f"generation        resumed on {g['resumed_from']}'s landing  {g['stages']}")
        else:
            p(
                f"generation        {g['seconds']:8.1f} s  {g['stages']}"
                f"  ({g['raw_rows_per_s']:,} raw rows/s)"
            )
        p(f"interactions      {r['interactions']:>10,}")
        for t, c in r["raw_rows"].items():
            floor = r["scan_floor"].get(f"raw.{t}", {})
            p(f"  raw.{t:<30} {c:>11,} rows   count(*) {floor.get('seconds', 0):6.2f} s")
        f, i = r["full"], r["incremental"]
        p(
            f"full build        {f['seconds']:8.1f} s  "
            f"({f['interactions_per_s']:,} interactions/s; node time {f['node_seconds_sum']} s:"
            f" models {f['model_seconds_sum']} s, tests {f['test_seconds_sum']} s;"
            f" {f['statuses']})"
        )
        p(
            f"night landed      {sum(r['night_landing']['rows'].values()):>10,} raw rows, "
            f"{r['night_new_tickets']:,} new tickets"
        )
        p(
            f"incremental build {i['seconds']:8.1f} s  (node time {i['node_seconds_sum']} s:"
            f" models {i['model_seconds_sum']} s, tests {i['test_seconds_sum']} s;"
            f" {i['statuses']})"
        )
        p(f"incremental/full  {r['incremental_over_full'] * 100:7.1f} %")
        for kind, c in r.get("intraday", {}).items():  # issue 18: a cycle at M under 60 s
            if kind == "skipped":
                p(f"intraday cycle    {c}")
            else:
                p(f"intraday {kind:<8} {c['seconds']:8.1f} s  ({c['status']}; {c['steps']})")
        b = r["business_time"]
        p(
            f"business time     {b['seconds_best']:8.2f} s for {b['pairs']:,} pairs "
            f"(median {b['seconds_median']:.2f} s; {b['pairs_per_s']:,}/s)"
        )
        p(
            f"database          {r['size_after_night']['database_mb']:,} MB  "
            f"{r['size_after_night']['schema_mb']}"
        )
        d = r.get("disk_peak") or {}
        p(
            f"disk at its peak  {d.get('peak_mb', 0):,} MB  "
            f"(during {d.get('phase')}; {d.get('split_mb')})"
        )
        p(f"peak RSS          {r['peak_rss_mb']}  MB")
        p(f"  {'slowest nodes':<66} {'full s':>7}  {'incr s':>7}   rows full / incr")
        for m in r["models"]:
            p(
                f"  {m['node'][:66]:<66} {_fmt_s(m['full_s']):>7}  "
                f"{_fmt_s(m['incremental_s']):>7}   "
                f"{m['rows_full'] if m['rows_full'] is not None else '-'} / "
                f"{m['rows_incremental'] if m['rows_incremental'] is not None else '-'}"
            )
        w = r.get("service_health")
        if w:
            p(
                "service health models (issue 18): "
                f"{(w['full_model_seconds_share'] or 0) * 100:.1f} % of the full build's model time"
            )
            for name, m in sorted(w["models"].items()):
                p(
                    f"  {name:<66} {_fmt_s(m['full_s']):>7}  {_fmt_s(m['incremental_s']):>7}   "
                    f"{m['rows_full'] if m['rows_full'] is not None else '-'} / "
                    f"{m['rows_incremental'] if m['rows_incremental'] is not None else '-'}"
                )
        p("staging relations (count(*); of the child events view, its read of raw audits)")
        for v, c in r["staging_scan"].items():
            p(f"  {v:<45} {c['rows']:>11,} rows {c['seconds']:7.2f} s")
    p()
    p("summary")
    for name, r in results["scales"].items():
        if "incremental_over_full" not in r:
            continue
        f, i = r["full"]["seconds"], r["incremental"]["seconds"]
        b = r["business_time"]
        p(
            f"  {name}: {r['interactions']:,} interactions; full build {f:.0f} s; night "
            f"{i:.0f} s = {r['incremental_over_full'] * 100:.0f} % of full; business time "
            f"{b['pairs']:,} pairs in {b['seconds_best']:.2f} s; DB "
            f"{r['size_after_night']['database_mb']:,} MB"
        )
    if "incremental_over_full" in results["scales"].get("S", {}):
        r = results["scales"]["S"]
        p(
            f"  aims: S full build < 120 s: {'met' if r['full']['seconds'] < 120 else 'missed'}; "
            f"night < 10 % of full: {'met' if r['incremental_over_full'] < 0.10 else 'missed'}; "
            "1M business-time < 10 s: "
            f"{'met' if r['business_time']['seconds_best'] < 10 else 'missed'}"
        )
