"""The console summary `make demo` and `schoolcx report` end with: per district, the three
headline figures of its latest school year beside the peer median and last year's value."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg

from schoolcx.config import DeploymentConfig
from schoolcx.report import data
from schoolcx.report.figures import HEADLINE_FIGURES
from schoolcx.report.view import peer_group_words

HEADLINES = (
    ("interactions_per_1000_students_per_service_day", "per 1,000 students / service day"),
    ("median_first_response_business_minutes", "median first response (business min)"),
    ("feedback_score", "feedback score (1-5)"),
)
assert tuple(m for m, _ in HEADLINES) == tuple(f.metric for f in HEADLINE_FIGURES)


@dataclass(frozen=True)
class Headline:
    district_id: str
    name: str
    period_start: dt.date
    period_end: dt.date
    interactions: int
    metric: str
    value: float | None
    peer_median: float | None
    peer_note: str
    prior_value: float | None
    direction: str | None


def headlines(url: str, consortium_names: dict[str, str] | None = None) -> list[Headline]:
    out: list[Headline] = []
    with psycopg.connect(url) as conn:
        for row in data.summary_rows(conn):
            district_id, start = row["district_id"], row["period_start"]
            peers = {
                r["metric"]: r
                for r in data.peer_rows(conn, district_id)
                if r["period_type"] == "school_year" and r["period_start"] == start
            }
            yoy = {r["metric"]: r for r in data.yoy_rows(conn, district_id)}
            for metric, _ in HEADLINES:
                p, y = peers.get(metric), yoy.get(metric, {})
                if p is not None and p["peer_median"] is not None:
                    note = peer_group_words(
                        p["peer_group"],
                        p["peer_group_key"],
                        p["n_districts"],
                        consortium_names or {},
                    )
                else:
                    note = (p or {}).get("suppression_reason") or "no peers"
                out.append(
                    Headline(
                        district_id,
                        row["name"],
                        start,
                        row["period_end"],
                        row["interactions"],
                        metric,
                        _f(row[metric]),
                        _f(p["peer_median"] if p else None),
                        note,
                        _f(y.get("prior_value")),
                        y.get("direction"),
                    )
                )
    return out


def _f(value) -> float | None:
    return None if value is None else float(value)


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def print_summary(url: str, cfg: DeploymentConfig) -> None:
    rows = headlines(url, {c.consortium_id: c.name for c in cfg.consortiums})
    if not rows:
        print("no published marts yet (has a night passed the quality gate?)")
        return
    by_district: dict[str, list[Headline]] = {}
    for h in rows:
        by_district.setdefault(h.district_id, []).append(h)
    print(f"\n{cfg.name}: published marts, school year to date\n")
    header = f"{'district':<34} {'figure':<38} {'value':>9} {'peer median':>12} {'last year':>10}"
    print(header)
    print("-" * len(header))
    order = [m for m, _ in HEADLINES]
    for district_id, hs in by_district.items():
        label = f"{hs[0].name[:24]} {district_id}"
        for i, h in enumerate(sorted(hs, key=lambda h: order.index(h.metric))):
            print(
                f"{label if i == 0 else '':<34} {dict(HEADLINES)[h.metric]:<38} "
                f"{_fmt(h.value):>9} {_fmt(h.peer_median):>12} {_fmt(h.prior_value):>10}"
            )
    print()
