"""The headline figures per district, read from the published marts only.

`print_summary` is what `make demo` ends with; `write_report` writes a self-contained HTML page
(no CDN, readable offline) per run. Both read `marts`, never `build`: what they show is what BI
users see.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass

import psycopg
from psycopg import sql

from schoolcx.config import DeploymentConfig
from schoolcx.paths import local_dir

HEADLINES = (
    ("interactions_per_1000_students_per_service_day", "per 1,000 students / service day"),
    ("median_first_response_business_minutes", "median first response (business min)"),
    ("feedback_score", "feedback score (1-5)"),
)

_QUERY = """
with latest as (
    select district_id, max(period_start) as period_start
    from marts.district_scorecard
    where period_type = 'school_year'
    group by district_id
)
select d.district_id, d.name, s.period_start, s.period_end, s.interactions,
       s.{metric} as district_value, pb.peer_median, pb.peer_group, pb.n_districts,
       pb.suppression_reason,
       y.prior_value, y.direction
from marts.dim_district as d
join latest as l on l.district_id = d.district_id
join marts.district_scorecard as s
    on s.district_id = d.district_id and s.period_type = 'school_year'
   and s.period_start = l.period_start
left join marts.peer_benchmarks as pb
    on pb.district_id = d.district_id and pb.metric = {metric_name}
   and pb.period_type = 'school_year' and pb.period_start = l.period_start
left join marts.yoy_trends as y
    on y.district_id = d.district_id and y.metric = {metric_name}
order by d.district_id
"""


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


def headlines(url: str) -> list[Headline]:
    out: list[Headline] = []
    with psycopg.connect(url) as conn:
        for metric, _ in HEADLINES:
            # the metric names the scorecard column it compares (peer_benchmarks contract)
            query = sql.SQL(_QUERY).format(
                metric=sql.Identifier(metric), metric_name=sql.Literal(metric)
            )
            for row in conn.execute(query):
                (
                    district_id,
                    name,
                    start,
                    end,
                    n,
                    value,
                    peer_median,
                    group,
                    n_districts,
                    suppressed,
                    prior,
                    direction,
                ) = row
                note = (
                    f"{group}, {n_districts} districts"
                    if peer_median is not None
                    else (suppressed or "no peers")
                )
                out.append(
                    Headline(
                        district_id,
                        name,
                        start,
                        end,
                        n,
                        metric,
                        _f(value),
                        _f(peer_median),
                        note,
                        _f(prior),
                        direction,
                    )
                )
    return out


def _f(value) -> float | None:
    return None if value is None else float(value)


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def print_summary(url: str, cfg: DeploymentConfig) -> None:
    rows = headlines(url)
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
    for district_id, hs in by_district.items():
        first = hs[0]
        label = f"{first.name[:24]} {district_id}"
        for i, h in enumerate(sorted(hs, key=lambda h: [m for m, _ in HEADLINES].index(h.metric))):
            title = dict(HEADLINES)[h.metric]
            print(
                f"{label if i == 0 else '':<34} {title:<38} {_fmt(h.value):>9} "
                f"{_fmt(h.peer_median):>12} {_fmt(h.prior_value):>10}"
            )
    print()


def write_report(url: str, cfg: DeploymentConfig, as_of: dt.date) -> str:
    """Write the district benchmark page for `as_of`; returns its path."""
    rows = headlines(url)
    folder = local_dir() / "reports" / as_of.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "index.html"
    body = []
    for h in rows:
        body.append(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(c))}</td>"
                for c in (
                    f"{h.name} ({h.district_id})",
                    dict(HEADLINES)[h.metric],
                    _fmt(h.value),
                    _fmt(h.peer_median),
                    h.peer_note,
                    _fmt(h.prior_value),
                    h.direction or "—",
                )
            )
            + "</tr>"
        )
    path.write_text(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>schoolcx report {as_of}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:4px 8px}}td:nth-child(n+3){{text-align:right}}</style>
</head><body><h1>{html.escape(cfg.name)}: contacts as of {as_of}</h1>
<p>School year to date, from the published marts. Peer figures are aggregates of peer
districts only; a group under k districts or a district under n observations is suppressed.</p>
<table><tr><th>district</th><th>figure</th><th>value</th><th>peer median</th><th>peer group</th>
<th>last year</th><th>trend</th></tr>
{"".join(body)}
</table></body></html>
""")
    return str(path)
