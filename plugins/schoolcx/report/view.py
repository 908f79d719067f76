"""The district page as words and numbers, before any HTML: what a superintendent reads.

Pure functions of mart rows (schoolcx.report.data) and the deployment config, so the wording
is tested on small hand-made rows: peer groups in words, suppression with its reason and
count (never a zero or a blank), direction in words and an icon (never colour alone), survey
items sorted by their gap to peers, and the year's largest moves in plain sentences.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from schoolcx.report.figures import (
    HEADLINE_FIGURES,
    HIGH_RISK,
    SLA_MET,
    SURVEY_PREFIX,
    Figure,
    figure,
    long_date,
    number,
    short,
    survey_figure,
    with_unit,
)
from schoolcx.report.health import ServiceHealth

STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "the District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
    "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina",
    "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont",
    "VA": "Virginia", "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin",
    "WY": "Wyoming", "PR": "Puerto Rico",
}  # fmt: skip

PRIORITIES = ("urgent", "high", "normal", "low")

# direction -> (icon, words); the icon is decoration beside the words, never alone
DIRECTIONS = {
    "improving": ("▲", "better than last year"),
    "declining": ("▼", "worse than last year"),
    "steady": ("●", "about the same as last year"),
}


# ---------------------------------------------------------------- wording


def band_words(band: str) -> str:
    """An enrollment band as dbt names it ('under 2,500', '2,500-4,999', '75,000 and over')
    in words."""
    if band.endswith(" and over"):
        return f"{band.removesuffix(' and over')} students and over"
    return f"{band} students"


def _the(name: str) -> str:
    return name if name.lower().startswith("the ") else f"the {name}"


def peer_group_words(
    peer_group: str | None,
    peer_group_key: str | None,
    n_districts: int | None,
    consortium_names: dict[str, str],
) -> str:
    """'6 districts in the Prairie East Rural Schools Consortium, under 2,500 students'."""
    if not peer_group or not peer_group_key:
        return "no peer group"
    count = f"{n_districts:,} districts" if n_districts is not None else "districts"
    if peer_group == "all_districts":
        return f"all {count} in this warehouse"
    place, _, band = (part.strip() for part in peer_group_key.partition(" / "))
    if peer_group.startswith("consortium"):
        where = _the(consortium_names.get(place, place))
    else:  # state_and_enrollment_band
        where = STATES.get(place, place)
    words = f"{count} in {where}"
    return f"{words}, {band_words(band)}" if band else words


def suppression_words(
    reason: str | None, k: int, n: int, observations: str, count: int | None
) -> str | None:
    """Why a peer comparison is not shown, with the count behind it; None when it is shown."""
    if reason is None:
        return None
    if reason == "no_peer_group_meets_k":
        return f"suppressed: fewer than {k} peer districts"
    if reason == "district_below_n":
        counted = f" ({count:,} {observations})" if count is not None else ""
        return f"suppressed: fewer than {n} {observations}{counted}"
    if reason == "no_district_value":
        return "no value for this district yet"
    return f"suppressed: {reason.replace('_', ' ')}"


def direction_words(direction: str | None, fig: Figure, change: Decimal | float | None) -> str:
    """Last year against this year in words: the move and, where the figure has a better
    side, whether it is better."""
    if change is None:
        return "no comparison with last year"
    if direction == "steady":
        return DIRECTIONS["steady"][1]
    moved = "higher" if change > 0 else "lower" if change < 0 else "unchanged"
    if direction in DIRECTIONS:
        return f"{moved}, {DIRECTIONS[direction][1]}"
    return f"{moved} than last year" if moved != "unchanged" else "same as last year"


def direction_icon(direction: str | None, change: Decimal | float | None) -> str:
    if direction in DIRECTIONS:
        return DIRECTIONS[direction][0]
    if change is None:
        return "–"
    return "↑" if change > 0 else "↓" if change < 0 else "●"


def peer_position(value, p25, p75, fig: Figure) -> str:
    """Where the district sits against the middle half of its peers, in words."""
    if value is None or p25 is None or p75 is None:
        return ""
    if p25 <= value <= p75:
        return "within the middle half of peers"
    side = "below" if value < p25 else "above"
    if fig.better is None:
        return f"{side} the middle half of peers"
    good = (side == "below") == (fig.better == "lower")
    return f"{side} the middle half of peers ({'better' if good else 'worse'})"


# ---------------------------------------------------------------- the page's parts


@dataclass
class Peers:
    median: Decimal | None = None
    p25: Decimal | None = None
    p75: Decimal | None = None
    n_districts: int | None = None
    group: str = "no peer group"
    suppressed: str | None = None  # why the comparison is not shown (with its count)
    ranked: bool = False


@dataclass
class Card:
    fig: Figure
    value: Decimal | None
    peers: Peers
    prior: Decimal | None
    direction: str | None
    change: Decimal | None
    pct_change: Decimal | None
    observations: int | None
    span: str = ""

    @property
    def value_text(self) -> str:
        return number(self.value, self.fig)

    @property
    def direction_text(self) -> str:
        return direction_words(self.direction, self.fig, self.change)

    @property
    def icon(self) -> str:
        return direction_icon(self.direction, self.change)

    @property
    def brief_direction(self) -> str:
        """Short words for a table cell: better / worse, or higher / lower for a figure without a
        better side."""
        if self.change is None:
            return "no comparison with last year"
        if self.direction == "steady":
            return "about the same as last year"
        if self.direction in ("improving", "declining"):
            word = "better" if self.direction == "improving" else "worse"
        else:
            word = "higher" if self.change > 0 else "lower" if self.change < 0 else "same"
        return f"{word} than last year" if word != "same" else "same as last year"

    @property
    def position(self) -> str:
        if self.peers.suppressed and self.peers.median is None:
            return ""
        return peer_position(self.value, self.peers.p25, self.peers.p75, self.fig)


@dataclass
class SurveyItem:
    fig: Figure
    school_year: int
    value: Decimal
    valid_answers: int
    peers: Peers
    prior: Decimal | None

    @property
    def item_code(self) -> str:
        return self.fig.metric.removeprefix(SURVEY_PREFIX)

    @property
    def gap(self) -> Decimal | None:
        """Percentage points from the peer median (negative: below peers)."""
        if self.peers.median is None:
            return None
        return self.value - self.peers.median


@dataclass
class SlaRow:
    priority: str
    evaluated: int
    met: int
    share: Decimal | None
    suppressed: str | None


@dataclass
class TrendPoint:
    period_start: dt.date
    value: Decimal | None
    p25: Decimal | None
    median: Decimal | None
    p75: Decimal | None
    prior: Decimal | None = None
    suppressed: str | None = None  # why the month's peer comparison is not shown or not ranked


@dataclass
class DistrictView:
    district_id: str
    name: str
    as_of: dt.date
    span_start: dt.date
    span_end: dt.date
    cards: list[Card]
    high_risk: Card
    sla_overall: Card
    sla_rows: list[SlaRow]
    high_risk_terms: list[tuple[str, int]]
    trends: dict[str, list[TrendPoint]]
    survey_year: int | None
    survey: list[SurveyItem]
    changes: list[str]
    peer_group: str
    # who computed the peer figures: '' in this warehouse, else the consortium hub's words
    peer_source: str = ""
    interactions: int = 0
    rating_count: int = 0
    k: int = 5
    n: int = 30
    health: ServiceHealth | None = None  # service health (report.health), set by pages
    # the latest intraday cycle's marts.today_status row (schoolcx.intraday), set by pages
    today: dict | None = None

    @property
    def span_words(self) -> str:
        return f"{long_date(self.span_start)} to {long_date(self.span_end)}"


def peers_of(row: dict | None, k: int, n: int, fig: Figure, count: int | None, names) -> Peers:
    if row is None:
        return Peers(suppressed=suppression_words("no_peer_group_meets_k", k, n, "", None))
    return Peers(
        median=row["peer_median"],
        p25=row["peer_p25"],
        p75=row["peer_p75"],
        n_districts=row["n_districts"],
        group=peer_group_words(row["peer_group"], row["peer_group_key"], row["n_districts"], names),
        suppressed=suppression_words(row["suppression_reason"], k, n, fig.observations, count),
        ranked=row["percentile_rank"] is not None,
    )


def sort_by_gap(items: list[SurveyItem]) -> list[SurveyItem]:
    """Furthest below peers first; items without a peer median last, by title."""
    return sorted(
        items,
        key=lambda i: (i.gap is None, i.gap if i.gap is not None else 0, i.fig.title),
    )


def change_sentence(row: dict) -> str | None:
    """One yoy_trends row as a sentence a board member reads; None when it has no change."""
    if row.get("change") is None or row.get("metric") not in _CHANGE_METRICS:
        return None
    fig = figure(row["metric"])
    now, before = with_unit(row["current_value"], fig), short(row["prior_value"], fig)
    pct = row.get("pct_change")
    if row.get("direction") == "steady":
        return f"{fig.title}: about the same as last year: {now}, against {before} a year ago."
    moved = "up" if row["change"] > 0 else "down"
    by = f" {abs(float(pct)):,.0f} %" if pct is not None else ""
    judged = {"improving": ", better", "declining": ", worse"}.get(row.get("direction"), "")
    return f"{fig.title}: {moved}{by} on last year{judged}: {now}, against {before} a year ago."


_CHANGE_METRICS = {f.metric for f in (*HEADLINE_FIGURES, HIGH_RISK, SLA_MET)} | {
    "answered_share",
    "positive_share",
}


def what_changed(rows: list[dict], limit: int = 4) -> list[str]:
    """The largest year-over-year moves (by percent), steady ones only when nothing moved."""
    moved = [r for r in rows if r.get("change") is not None and r.get("pct_change") is not None]
    moved.sort(key=lambda r: (r.get("direction") == "steady", -abs(float(r["pct_change"]))))
    out = [s for s in map(change_sentence, moved) if s]
    return out[:limit]


def sla_rows(rows: list[dict], n: int) -> list[SlaRow]:
    by = {r["priority"]: r for r in rows}
    out = []
    for priority in [p for p in PRIORITIES if p in by] + sorted(set(by) - set(PRIORITIES)):
        r = by[priority]
        evaluated, met = int(r["evaluated"]), int(r["met"])
        suppressed = None
        share = Decimal(met) / Decimal(evaluated) if evaluated else None
        if evaluated < n:
            suppressed = f"suppressed: fewer than {n} interactions ({evaluated:,} interactions)"
            share = None
        out.append(SlaRow(priority, evaluated, met, share, suppressed))
    return out


def build_view(
    district: dict,
    *,
    as_of: dt.date,
    k: int,
    n: int,
    consortium_names: dict[str, str],
    year_row: dict | None,
    months: list[dict],
    prior_months: list[dict],
    peers: list[dict],
    yoy: list[dict],
    survey: list[dict],
    sla: list[dict],
    high_risk_terms: list[dict],
    span_start: dt.date,
) -> DistrictView:
    """Compose a district's page from its mart rows (see report.build for the queries)."""
    year_start = year_row["period_start"] if year_row else span_start
    peer = {(r["metric"], r["period_type"], r["period_start"]): r for r in peers}
    trend = {r["metric"]: r for r in yoy}

    def observations(fig: Figure, row: dict | None) -> int | None:
        if row is None:
            return None
        return int(row["rating_count"] if fig.observations == "ratings" else row["interactions"])

    def card(fig: Figure) -> Card:
        y = trend.get(fig.metric, {})
        return Card(
            fig=fig,
            value=year_row.get(fig.metric) if year_row else None,
            peers=peers_of(
                peer.get((fig.metric, "school_year", year_start)),
                k,
                n,
                fig,
                observations(fig, year_row),
                consortium_names,
            ),
            prior=y.get("prior_value"),
            direction=y.get("direction"),
            change=y.get("change"),
            pct_change=y.get("pct_change"),
            observations=observations(fig, year_row),
        )

    prior_by_month = {(r["period_start"].month): r for r in prior_months}
    trends: dict[str, list[TrendPoint]] = {}
    for fig in HEADLINE_FIGURES:
        points = []
        for m in months:
            p = peer.get((fig.metric, "month", m["period_start"]))
            ok = p is not None and p["peer_median"] is not None
            before = prior_by_month.get(m["period_start"].month)
            reason = p["suppression_reason"] if p else "no_peer_group_meets_k"
            points.append(
                TrendPoint(
                    m["period_start"],
                    m.get(fig.metric),
                    p["peer_p25"] if ok else None,
                    p["peer_median"] if ok else None,
                    p["peer_p75"] if ok else None,
                    before.get(fig.metric) if before else None,
                    suppression_words(reason, k, n, fig.observations, observations(fig, m)),
                )
            )
        trends[fig.metric] = points

    survey_years = sorted({r["school_year"] for r in survey})
    survey_year = survey_years[-1] if survey_years else None
    items = []
    for r in survey:
        if r["school_year"] != survey_year:
            continue
        fig = survey_figure(r["item_code"])
        prior = next(
            (
                p["percent_agree"]
                for p in survey
                if p["school_year"] == survey_year - 1 and p["item_code"] == r["item_code"]
            ),
            None,
        )
        p = peer.get((SURVEY_PREFIX + r["item_code"], "school_year", _july_first(survey_year)))
        items.append(
            SurveyItem(
                fig,
                survey_year,
                r["percent_agree"],
                int(r["valid_answers"]),
                peers_of(p, k, n, fig, int(r["valid_answers"]), consortium_names),
                prior,
            )
        )

    headline_cards = [card(f) for f in HEADLINE_FIGURES]
    group = next((c.peers.group for c in headline_cards if c.peers.n_districts), "no peer group")
    return DistrictView(
        district_id=district["district_id"],
        name=district["name"],
        as_of=as_of,
        span_start=span_start,
        span_end=as_of,
        cards=headline_cards,
        high_risk=card(HIGH_RISK),
        sla_overall=card(SLA_MET),
        sla_rows=sla_rows(sla, n),
        high_risk_terms=[(r["term"], int(r["interactions"])) for r in high_risk_terms],
        trends=trends,
        survey_year=survey_year,
        survey=sort_by_gap(items),
        changes=what_changed(yoy),
        peer_group=group,
        peer_source=peer_source_words(peers, consortium_names),
        interactions=int(year_row["interactions"]) if year_row else 0,
        rating_count=int(year_row["rating_count"]) if year_row else 0,
        k=k,
        n=n,
    )


def peer_source_words(peers: list[dict], consortium_names: dict[str, str]) -> str:
    """'' when every peer figure was computed here; else which consortium hub returned them."""
    hubs = sorted({r["peer_source"] for r in peers if r.get("peer_source", "local") != "local"})
    if not hubs:
        return ""
    received = max(r["received_at"] for r in peers if r.get("peer_source", "local") != "local")
    names = " and ".join(consortium_names.get(h, h) for h in hubs)
    return (
        f"benchmarked by the {names} hub from district aggregates it pooled "
        f"(received {long_date(received.date())})"
    )


def _july_first(school_year: int) -> dt.date:
    return dt.date(school_year - 1, 7, 1)
