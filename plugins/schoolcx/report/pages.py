"""Write the report: one self-contained HTML page per district and a consortium index.

Self-contained means inline CSS and inline SVG charts, no script, no font or image fetched:
the folder can be mailed, opened from a USB stick or printed to PDF.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import jinja2
import psycopg

from schoolcx.asof import school_year_of
from schoolcx.config import DeploymentConfig
from schoolcx.report import charts, data, units
from schoolcx.report.figures import (
    FIGURES,
    HEADLINE_FIGURES,
    SLA_MET,
    item_title,
    long_date,
    month_label,
    number,
    school_year_label,
    short,
    with_unit,
)
from schoolcx.report.health import BACKLOG_SERVICE_DAYS, build_health
from schoolcx.report.view import DistrictView, build_view

TEMPLATES = Path(__file__).parent / "templates"


def _prior_span(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    def back(d: dt.date) -> dt.date:
        return d.replace(year=d.year - 1, day=28 if (d.month, d.day) == (2, 29) else d.day)

    return back(start), back(end)


def district_view(
    conn: psycopg.Connection, cfg: DeploymentConfig, district: dict, as_of: dt.date
) -> DistrictView:
    """Read one district's marts and compose its page's view."""
    district_id = district["district_id"]
    school_year = school_year_of(as_of)
    span_start = dt.date(school_year - 1, 7, 1)
    prior_start, prior_end = _prior_span(span_start, as_of)
    year_rows = data.scorecard(conn, district_id, "school_year", span_start, span_start)
    view = build_view(
        district,
        as_of=as_of,
        k=cfg.benchmarks.k_min_districts,
        n=cfg.benchmarks.n_min_observations,
        consortium_names={c.consortium_id: c.name for c in cfg.consortiums},
        year_row=year_rows[0] if year_rows else None,
        months=data.scorecard(conn, district_id, "month", span_start, as_of),
        prior_months=data.scorecard(conn, district_id, "month", prior_start, prior_end),
        peers=data.peer_rows(conn, district_id),
        yoy=data.yoy_rows(conn, district_id),
        survey=data.survey_rows(conn, district_id),
        sla=data.sla_by_priority(conn, district_id, span_start, as_of),
        high_risk_terms=data.high_risk_by_term(conn, district_id, span_start, as_of),
        span_start=span_start,
    )
    # enough calendar days back for the last 30 service days, and the past-due streak
    first = min(span_start, as_of - dt.timedelta(days=BACKLOG_SERVICE_DAYS * 3))
    view.health = build_health(
        data.rating_drivers(conn, district_id, school_year),
        data.backlog_days(conn, district_id, first, as_of),
        as_of,
        cfg.benchmarks.n_min_observations,
    )
    view.today = data.today_status(conn, district_id)
    return view


@dataclass
class Chapter:
    """A consortium (or 'not in a consortium') and its districts' views, for the index."""

    title: str
    views: list[DistrictView]


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(
        number=number,
        with_unit=with_unit,
        short=short,
        long_date=long_date,
        month_label=month_label,
        school_year=school_year_label,
        item_title=item_title,
        raw=lambda v: "" if v is None else str(v),
        percent=lambda v: number(v, SLA_MET),
    )
    env.globals["HEADLINE_FIGURES"] = HEADLINE_FIGURES
    env.globals["FIGURES"] = FIGURES
    return env


def page_name(district_id: str) -> str:
    return f"district-{district_id}.html"


@dataclass
class DistrictUnits:
    """A district's unit sections and its schools' pages (schoolcx.report.units)."""

    sections: list[units.UnitSection]
    schools: list[units.SchoolView]


def district_units(
    conn: psycopg.Connection, cfg: DeploymentConfig, district: dict, view: DistrictView
) -> DistrictUnits:
    district_id = district["district_id"]
    rows = data.unit_rows(conn, district_id, view.span_start)
    year = data.scorecard(conn, district_id, "school_year", view.span_start, view.span_start)
    year_row = year[0] if year else None
    configured = next((d for d in cfg.districts if d.district_id == district_id), None)
    names = {s.school_id: s.name for s in configured.schools} if configured else {}
    school_rows = {
        r["unit_key"]: r for r in rows if r["unit_type"] == "school" and not r["is_unmapped"]
    }
    district_median = year_row["median_first_response_business_minutes"] if year_row else None
    sections = units.unit_sections(rows, view.n, names, set(school_rows), district_median)
    schools_section = next((s for s in sections if s.unit_type == "school"), None)
    rankings = data.school_rankings(conn, district_id, view.span_start)
    school_views = [
        units.school_view(
            row,
            schools_section.rows,
            school_rows[row.key],
            rankings,
            district,
            year_row,
            view.n,
            view.as_of,
            view.span_words,
            page_name(district_id),
        )
        for row in (schools_section.rows if schools_section else [])
        if not row.is_unmapped
    ]
    return DistrictUnits(sections, school_views)


def _unit_charts(section: units.UnitSection) -> str | None:
    if not section.charted:
        return None
    return charts.unit_chart(section.charted, section.district_median, section.title)


def write_pages(url: str, cfg: DeploymentConfig, as_of: dt.date, folder: Path) -> Path:
    """Write every district's page and the index into `folder`; returns the index's path."""
    env = _environment()
    folder.mkdir(parents=True, exist_ok=True)
    with psycopg.connect(url) as conn:
        districts = data.districts(conn)
        views = [district_view(conn, cfg, d, as_of) for d in districts]
        below = {
            v.district_id: district_units(conn, cfg, d, v)
            for d, v in zip(districts, views, strict=True)
        }
    memberships = {d["district_id"]: list(d["consortium_ids"] or []) for d in districts}
    district_page = env.get_template("district.html.j2")
    for view in views:
        (folder / page_name(view.district_id)).write_text(
            district_page.render(
                v=view,
                deployment=cfg.name,
                charts={
                    "trends": {
                        f.metric: charts.trend_chart(f, view.trends[f.metric])
                        for f in HEADLINE_FIGURES
                        if any(p.value is not None for p in view.trends[f.metric])
                    },
                    "sla": charts.sla_chart(view.sla_rows)
                    if any(r.share is not None for r in view.sla_rows)
                    else None,
                    "survey": charts.survey_chart(view.survey) if view.survey else None,
                    "ratings": charts.rating_chart(view.health.buckets)
                    if view.health and any(b.rating_count for b in view.health.buckets)
                    else None,
                    "backlog": charts.backlog_chart(view.health.backlog_days)
                    if view.health and view.health.backlog_days
                    else None,
                    "units": {
                        s.unit_type: _unit_charts(s) for s in below[view.district_id].sections
                    },
                },
                units=below[view.district_id].sections,
                index="index.html",
            ),
            encoding="utf-8",
        )
        school_page = env.get_template("school.html.j2")
        for school in below[view.district_id].schools:
            (folder / units.school_page_name(school.school_id)).write_text(
                school_page.render(
                    s=school,
                    deployment=cfg.name,
                    chart=charts.unit_chart(
                        [r for r in school.schools if r.median is not None],
                        next(
                            (c.district_value for c in school.comparisons if c.fig is units.MEDIAN),
                            None,
                        ),
                        f"Schools of {school.district_name}",
                        highlight=school.school_id,
                    )
                    if any(r.median is not None for r in school.schools)
                    else None,
                    index="index.html",
                ),
                encoding="utf-8",
            )
    names = {c.consortium_id: c.name for c in cfg.consortiums}
    chapters = [
        Chapter(name, [v for v in views if cid in memberships.get(v.district_id, [])])
        for cid, name in names.items()
    ]
    unaffiliated = [v for v in views if not memberships.get(v.district_id)]
    if unaffiliated:
        chapters.append(Chapter("Not in a consortium", unaffiliated))
    index = folder / "index.html"
    index.write_text(
        env.get_template("index.html.j2").render(
            chapters=[c for c in chapters if c.views],
            deployment=cfg.name,
            as_of=as_of,
            page_name=page_name,
            count=len(views),
        ),
        encoding="utf-8",
    )
    return index
