"""Below the district, in words (issue 17): a section per unit type on the district page and a
page per school. Pure functions of unit_scorecard / unit_rankings rows (schoolcx.report.data),
so they are tested on hand-made rows like the district view.

A unit under n is shown as suppressed with its count, never as a blank or a zero; the unmapped
remainder is shown last, in words ("No school: central office or unmapped"), so a reader sees
how much of the district's contact no unit accounts for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from schoolcx.report.figures import FIGURES, Figure

UNMAPPED = "(unmapped)"
UNIT_TYPES: tuple[tuple[str, str, str], ...] = (
    # unit_type, section title, the remainder in words
    ("school", "Schools", "No school: central office or unmapped"),
    ("department", "Departments", "No department mapped"),
    ("stakeholder_type", "Who contacts the district", "Not mapped"),
    ("channel", "Channels", "Not mapped"),
    ("language", "Languages", "Not mapped"),
)
LANGUAGES = {
    "en": "English",
    "es": "Spanish",
    "vi": "Vietnamese",
    "zh": "Chinese",
    "ar": "Arabic",
    "so": "Somali",
    "ht": "Haitian Creole",
    "ko": "Korean",
    "ru": "Russian",
    "tl": "Tagalog",
    "fr": "French",
    "pt": "Portuguese",
    "unknown": "Not recorded",
}
MEDIAN = FIGURES["median_first_response_business_minutes"]
SCHOOL_FIGURES: tuple[str, ...] = (
    "interactions_per_1000_students_per_service_day",
    "median_first_response_business_minutes",
    "sla_met_share",
    "feedback_score",
)


def unit_label(unit_type: str, key: str, names: dict[str, str]) -> str:
    if key == UNMAPPED:
        return next(t[2] for t in UNIT_TYPES if t[0] == unit_type)
    if unit_type == "school":
        return names.get(key, f"School {key}")
    if unit_type == "language":
        return LANGUAGES.get(key, key)
    return key.replace("_", " ").capitalize()


def below_n_words(n: int, count: int, observations: str) -> str:
    """As the district page words a priority under n: the rule and the count."""
    return f"suppressed: fewer than {n} {observations} ({count:,} {observations})"


def school_page_name(school_id: str) -> str:
    return f"school-{school_id}.html"


@dataclass(frozen=True)
class UnitRow:
    unit_type: str
    key: str
    label: str
    interactions: int
    share_of_district: Decimal | None
    volume: Decimal | None  # schools only
    median: Decimal | None
    sla: Decimal | None
    feedback: Decimal | None
    rating_count: int
    suppressed: str | None  # under n interactions: no time, SLA or feedback
    feedback_suppressed: str | None  # under n ratings: no feedback score
    is_unmapped: bool
    page: str | None = None  # a school's own page


@dataclass(frozen=True)
class UnitSection:
    unit_type: str
    title: str
    rows: list[UnitRow]
    district_median: Decimal | None

    @property
    def charted(self) -> list[UnitRow]:
        """The units with a published median, for the chart (suppressed ones are in the table)."""
        return [r for r in self.rows if r.median is not None and not r.is_unmapped]


def unit_row(row: dict, n: int, names: dict[str, str], school_pages: set[str]) -> UnitRow:
    key, unit_type = row["unit_key"], row["unit_type"]
    suppressed = feedback_suppressed = None
    if row["suppression_reason"] == "unit_below_n":
        suppressed = below_n_words(n, row["interactions"], "interactions")
    if row["suppression_reason"] in ("unit_below_n", "ratings_below_n"):
        feedback_suppressed = below_n_words(n, row["rating_count"], "ratings")
    return UnitRow(
        unit_type=unit_type,
        key=key,
        label=unit_label(unit_type, key, names),
        interactions=row["interactions"],
        share_of_district=row["share_of_district_interactions"],
        volume=row["interactions_per_1000_students_per_service_day"],
        median=row["median_first_response_business_minutes"],
        sla=row["sla_met_share"],
        feedback=row["feedback_score"],
        rating_count=row["rating_count"],
        suppressed=suppressed,
        feedback_suppressed=feedback_suppressed,
        is_unmapped=row["is_unmapped"],
        page=school_page_name(key) if unit_type == "school" and key in school_pages else None,
    )


def unit_sections(
    rows: list[dict],
    n: int,
    names: dict[str, str],
    school_pages: set[str],
    district_median: Decimal | None,
) -> list[UnitSection]:
    """One section per unit type with rows: most contacts first, the remainder last."""
    sections = []
    for unit_type, title, _ in UNIT_TYPES:
        mine = [unit_row(r, n, names, school_pages) for r in rows if r["unit_type"] == unit_type]
        if not mine:
            continue
        mine.sort(key=lambda r: (r.is_unmapped, -r.interactions, r.label))
        sections.append(UnitSection(unit_type, title, mine, district_median))
    return sections


@dataclass(frozen=True)
class SchoolComparison:
    fig: Figure
    value: Decimal | None
    district_value: Decimal | None
    others: list[Decimal]  # the other schools' published values
    rank_words: str | None
    suppressed: str | None
    observations: int


@dataclass
class SchoolView:
    school_id: str
    name: str
    district_id: str
    district_name: str
    district_page: str
    as_of: dt.date
    span_words: str
    row: UnitRow
    enrollment: int | None
    comparisons: list[SchoolComparison] = field(default_factory=list)
    schools: list[UnitRow] = field(default_factory=list)  # every school of the district


def rank_words(rank: Decimal | None, n_units: int | None, fig: Figure) -> str | None:
    """percentile_rank is the share of the other qualifying schools doing strictly worse."""
    if rank is None or not n_units or n_units < 2 or fig.better is None:
        return None
    others = n_units - 1
    worse = round(Decimal(rank) * others)
    return f"better than {worse} of {plural(others, 'other school')} with enough contacts"


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def school_view(
    school: UnitRow,
    schools: list[UnitRow],
    scorecard_row: dict,
    rankings: list[dict],
    district: dict,
    district_row: dict | None,
    n: int,
    as_of: dt.date,
    span_words: str,
    district_page: str,
) -> SchoolView:
    by_metric = {r["metric"]: r for r in rankings if r["unit_key"] == school.key}
    others = [s for s in schools if s.key != school.key and not s.is_unmapped]
    comparisons = []
    for metric in SCHOOL_FIGURES:
        fig = FIGURES[metric]
        ranked = by_metric.get(metric, {})
        value = scorecard_row.get(metric)
        observations = (
            scorecard_row["rating_count"]
            if fig.observations == "ratings"
            else scorecard_row["interactions"]
        )
        suppressed = None
        if value is None and observations < n:
            suppressed = below_n_words(n, observations, fig.observations)
        other_values = [
            v
            for v in (
                {
                    "interactions_per_1000_students_per_service_day": o.volume,
                    "median_first_response_business_minutes": o.median,
                    "sla_met_share": o.sla,
                    "feedback_score": o.feedback,
                }[metric]
                for o in others
            )
            if v is not None
        ]
        comparisons.append(
            SchoolComparison(
                fig=fig,
                value=value,
                district_value=(district_row or {}).get(metric),
                others=sorted(other_values),
                rank_words=rank_words(ranked.get("percentile_rank"), ranked.get("n_units"), fig),
                suppressed=suppressed,
                observations=observations,
            )
        )
    return SchoolView(
        school_id=school.key,
        name=school.label,
        district_id=district["district_id"],
        district_name=district["name"],
        district_page=district_page,
        as_of=as_of,
        span_words=span_words,
        row=school,
        enrollment=scorecard_row.get("enrollment"),
        comparisons=comparisons,
        schools=[s for s in schools if not s.is_unmapped],
    )
