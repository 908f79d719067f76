"""The page's charts: Vega-Lite specs built with Altair, rendered to SVG in process by
vl-convert (its bundled Vega and fonts; no browser, no network), inlined into the page.

No chart is drawn by hand: each function only says what to encode. Every chart's numbers are
also in an HTML table on the page (templates), so a chart may stay purely visual to a screen
reader: it carries a short description as its accessible name.
"""

from __future__ import annotations

import re

import altair as alt

from schoolcx.report.figures import Figure, month_label
from schoolcx.report.health import AGES, BacklogDay, RatingBucket
from schoolcx.report.units import UnitRow
from schoolcx.report.view import SlaRow, SurveyItem, TrendPoint

DISTRICT = "#1f4e79"  # dark blue: the district's own line and marks
PEER_BAND = "#c9d6e3"  # pale grey-blue: the middle half of peers
PEER_MEDIAN = "#4d4d4d"
LAST_YEAR = "#8c6d1f"  # dark ochre, dashed: never told apart by colour alone
FONT = "sans-serif"
WIDTH = 520


def _config(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    return (
        chart.configure(font=FONT)
        .configure_view(stroke=None)
        .configure_axis(labelFontSize=12, titleFontSize=12, grid=True, gridColor="#e6e6e6")
        .configure_legend(orient="bottom", labelFontSize=12, titleFontSize=12)
    )


def to_svg(chart: alt.TopLevelMixin, description: str) -> str:
    """Render offline to an SVG element that scales to its container and has a name."""
    import vl_convert as vlc

    svg = vlc.vegalite_to_svg(_config(chart).to_dict())
    svg = re.sub(r"^<\?xml[^>]*>\s*", "", svg)
    # scale with the page (a phone is narrower than the chart); the name is the description
    svg = re.sub(r'\swidth="[\d.]+"\sheight="[\d.]+"', "", svg, count=1)
    label = description.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return svg.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)


def _num(v, fig: Figure) -> float | None:
    if v is None:
        return None
    return float(v) * (100 if fig.percent else 1)


def trend_chart(fig: Figure, points: list[TrendPoint]) -> str:
    """Months of this school year: the district's line, last year's dashed, peers' middle
    half shaded with their median."""
    rows = [
        {
            "month": month_label(p.period_start),
            "order": i,
            "district": _num(p.value, fig),
            "p25": _num(p.p25, fig),
            "median": _num(p.median, fig),
            "p75": _num(p.p75, fig),
            "last_year": _num(p.prior, fig),
        }
        for i, p in enumerate(points)
    ]
    data = alt.Data(values=rows)
    x = alt.X("month:O", sort=alt.SortField("order"), title=None, axis=alt.Axis(labelAngle=0))
    y_title = fig.unit
    band = (
        alt.Chart(data)
        .mark_area(color=PEER_BAND, opacity=0.8)
        .encode(x=x, y=alt.Y("p25:Q", title=y_title), y2="p75:Q")
    )
    lines = (
        alt.Chart(data)
        .transform_fold(["district", "median", "last_year"], as_=["series", "value"])
        .transform_filter("datum.value != null")
        .transform_calculate(
            label="{'district': 'This district', 'median': 'Peer median', "
            "'last_year': 'Last year'}[datum.series]"
        )
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y("value:Q", title=y_title),
            color=alt.Color(
                "label:N",
                title=None,
                scale=alt.Scale(
                    domain=["This district", "Peer median", "Last year"],
                    range=[DISTRICT, PEER_MEDIAN, LAST_YEAR],
                ),
            ),
            strokeDash=alt.StrokeDash(
                "label:N",
                title=None,
                scale=alt.Scale(
                    domain=["This district", "Peer median", "Last year"],
                    range=[[1, 0], [2, 2], [6, 3]],
                ),
            ),
            shape=alt.Shape(
                "label:N",
                title=None,
                scale=alt.Scale(
                    domain=["This district", "Peer median", "Last year"],
                    range=["circle", "square", "triangle-up"],
                ),
            ),
        )
    )
    chart = alt.layer(band, lines).properties(width=WIDTH, height=200)
    return to_svg(
        chart,
        f"{fig.title} by month, this district against the peers' middle half and last year; "
        "numbers in the table below",
    )


def sla_chart(rows: list[SlaRow]) -> str:
    shown = [
        {"priority": r.priority, "share": float(r.share) * 100} for r in rows if r.share is not None
    ]
    chart = (
        alt.Chart(alt.Data(values=shown))
        .mark_bar(color=DISTRICT)
        .encode(
            y=alt.Y("priority:N", sort=[r.priority for r in rows], title=None),
            x=alt.X("share:Q", title="% answered within target", scale=alt.Scale(domain=[0, 100])),
        )
        .properties(width=WIDTH - 80, height=28 * max(len(shown), 1))
    )
    text = chart.mark_text(align="left", dx=4, color="#1a1a1a").encode(
        text=alt.Text("share:Q", format=".1f")
    )
    return to_svg(
        alt.layer(chart, text),
        "Share answered within target by priority; numbers in the table below",
    )


def survey_chart(items: list[SurveyItem]) -> str:
    """Percent agree per item (sorted by gap to peers): peers' middle half as a pale bar with
    a tick at the median, last year as a hollow diamond, the district as a dark dot."""
    rows = [
        {
            "item": i.fig.title,
            "district": float(i.value),
            "p25": float(i.peers.p25) if i.peers.p25 is not None else None,
            "p75": float(i.peers.p75) if i.peers.p75 is not None else None,
            "median": float(i.peers.median) if i.peers.median is not None else None,
            "last_year": float(i.prior) if i.prior is not None else None,
        }
        for i in items
    ]
    order = [r["item"] for r in rows]
    data = alt.Data(values=rows)
    y = alt.Y("item:N", sort=order, title=None, axis=alt.Axis(labelLimit=260))
    x_scale = alt.Scale(domain=[0, 100])
    base = alt.Chart(data)
    band = base.mark_bar(color=PEER_BAND, height=14).encode(
        y=y, x=alt.X("p25:Q", scale=x_scale, title="% agree"), x2="p75:Q"
    )
    median = base.mark_tick(color=PEER_MEDIAN, thickness=2, size=18).encode(
        y=y, x=alt.X("median:Q", scale=x_scale)
    )
    prior = (
        base.transform_filter("datum.last_year != null")
        .mark_point(shape="diamond", filled=False, color=LAST_YEAR, size=90, strokeWidth=2)
        .encode(y=y, x=alt.X("last_year:Q", scale=x_scale))
    )
    district = base.mark_point(shape="circle", filled=True, color=DISTRICT, size=110).encode(
        y=y, x=alt.X("district:Q", scale=x_scale)
    )
    chart = alt.layer(band, median, prior, district).properties(
        width=WIDTH - 200, height=34 * max(len(rows), 1)
    )
    return to_svg(
        chart,
        "Percent agree per survey item with the peers' middle half and last year, "
        "lowest against peers first; numbers in the table below",
    )


AGE_COLOURS = ["#c6dbef", "#6baed6", "#2171b5", "#08306b", "#3f007d"]  # light to dark: older


def rating_chart(buckets: list[RatingBucket]) -> str:
    """Feedback score per first-response bucket, fastest first, each bar labelled with its
    count; a bucket under n has no bar, only its count."""
    rows = [
        {
            "bucket": b.label,
            "order": i,
            "score": float(b.feedback_score) if b.feedback_score is not None else None,
            "label": (
                f"{b.feedback_score} (n={b.rating_count:,})"
                if b.feedback_score is not None
                else f"n={b.rating_count:,}, too few"
            ),
            "at": float(b.feedback_score) if b.feedback_score is not None else 1.0,
            "base": 1.0,  # bars start at the scale's 1, not at 0 (off the 1-5 axis)
        }
        for i, b in enumerate(buckets)
    ]
    data = alt.Data(values=rows)
    y = alt.Y(
        "bucket:N", sort=[r["bucket"] for r in rows], title=None, axis=alt.Axis(labelLimit=220)
    )
    x_scale = alt.Scale(domain=[1, 5])
    bars = (
        alt.Chart(data)
        .transform_filter("datum.score != null")
        .mark_bar(color=DISTRICT)
        .encode(y=y, x=alt.X("score:Q", scale=x_scale, title="Rating (out of 5)"), x2="base:Q")
    )
    text = (
        alt.Chart(data)
        .mark_text(align="left", dx=4, color="#1a1a1a")
        .encode(y=y, x=alt.X("at:Q", scale=x_scale), text="label:N")
    )
    chart = alt.layer(bars, text).properties(width=WIDTH - 240, height=30 * len(rows))
    return to_svg(
        chart,
        "Rating by time to first answer, fastest first, with the number of ratings; "
        "numbers in the table below",
    )


def backlog_chart(days: list[BacklogDay]) -> str:
    """Contacts waiting at the end of each of the last service days, stacked by age."""
    labels = [label for _, label in AGES]
    rows = [
        {"date": d.local_date.isoformat(), "age": label, "order": j, "count": d.ages[key]}
        for d in days
        for j, (key, label) in enumerate(AGES)
    ]
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            x=alt.X(
                "date:O",
                title=None,
                axis=alt.Axis(labelAngle=-60, labelExpr="slice(datum.value, 5)"),
            ),
            y=alt.Y("count:Q", title="Contacts waiting", stack="zero"),
            color=alt.Color(
                "age:N",
                title="Waiting (service days)",
                scale=alt.Scale(domain=labels, range=AGE_COLOURS),
            ),
            order=alt.Order("order:Q"),
        )
        .properties(width=WIDTH, height=200)
    )
    return to_svg(
        chart,
        f"Contacts waiting at the end of each of the last {len(days)} service days, by how long "
        "they had waited; numbers in the table below",
    )


HIGHLIGHT = "#b35900"  # dark orange: the school a school page is about


def unit_chart(
    rows: list[UnitRow], district_median, title: str, highlight: str | None = None
) -> str:
    """Median time to first answer per unit (units under n are left out: they are in the
    table, suppressed with their count), with the district's median as a dashed rule. On a
    school's page its own bar is highlighted and labelled."""
    others = "Other units" if highlight is None else "Other schools"
    shown = [
        {
            "unit": r.label,
            "minutes": float(r.median),
            "which": "This school" if r.key == highlight else others,
        }
        for r in rows
    ]
    order = [r["unit"] for r in shown]
    y = alt.Y("unit:N", sort=order, title=None, axis=alt.Axis(labelLimit=240))
    bars = (
        alt.Chart(alt.Data(values=shown))
        .mark_bar()
        .encode(
            y=y,
            x=alt.X("minutes:Q", title="Median business minutes to first answer"),
            color=alt.Color(
                "which:N",
                title=None,
                legend=None if highlight is None else alt.Legend(orient="bottom"),
                scale=alt.Scale(domain=["This school", "Other units"], range=[HIGHLIGHT, DISTRICT]),
            ),
        )
    )
    text = bars.mark_text(align="left", dx=4, color="#1a1a1a").encode(
        text=alt.Text("minutes:Q", format=".0f"), color=alt.value("#1a1a1a")
    )
    layers = [bars, text]
    if district_median is not None:
        rule = (
            alt.Chart(alt.Data(values=[{"district": float(district_median)}]))
            .mark_rule(color=PEER_MEDIAN, strokeDash=[4, 3], strokeWidth=2)
            .encode(x="district:Q")
        )
        layers.append(rule)
    chart = alt.layer(*layers).properties(width=WIDTH - 200, height=26 * max(len(shown), 1))
    return to_svg(
        chart,
        f"{title}: median time to first answer per unit against the district's median "
        "(dashed line); numbers in the table below",
    )
