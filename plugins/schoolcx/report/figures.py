"""What each published figure is called, in what unit it is read, and which way is better.

One table for the console summary, the district pages and the tests, so a figure is never
worded two ways. `metric` is the district_scorecard column (the peer_benchmarks and yoy_trends
`metric`); survey items are `percent_agree.<item_code>`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

Better = Literal["lower", "higher", None]


@dataclass(frozen=True)
class Figure:
    metric: str
    title: str  # a card's heading, words a board member reads
    unit: str  # after the number: "business minutes", "%", "out of 5"
    better: Better  # which way is better; None for volume and high-risk share (no direction)
    observations: str  # what the n rule counts for it: "interactions", "ratings", "answers"
    percent: bool = False  # a 0-1 share shown as a percentage
    decimals: int = 2


HEADLINE_FIGURES: tuple[Figure, ...] = (
    Figure(
        "interactions_per_1000_students_per_service_day",
        "Contacts per 1,000 students",
        "contacts per 1,000 students per service day",
        None,
        "interactions",
    ),
    Figure(
        "median_first_response_business_minutes",
        "Time to first answer (median)",
        "business minutes",
        "lower",
        "interactions",
        decimals=0,
    ),
    Figure("feedback_score", "Rating of the answer", "out of 5", "higher", "ratings"),
)
HIGH_RISK = Figure(
    "high_risk_share", "High-risk contacts", "% of contacts", None, "interactions", percent=True
)
SLA_MET = Figure(
    "sla_met_share", "Answered within target", "% within target", "higher", "interactions", True
)
OTHER_FIGURES: tuple[Figure, ...] = (
    HIGH_RISK,
    SLA_MET,
    Figure("answered_share", "Answered", "% answered", "higher", "interactions", True),
    Figure(
        "p90_first_response_business_minutes",
        "Time to first answer, slowest tenth",
        "business minutes",
        "lower",
        "interactions",
        decimals=0,
    ),
    Figure("positive_share", "Positive ratings", "% rated 4 or 5", "higher", "ratings", True),
)
FIGURES: dict[str, Figure] = {f.metric: f for f in HEADLINE_FIGURES + OTHER_FIGURES}

SURVEY_PREFIX = "percent_agree."

# Stable climate item codes (config item_map values) in words; others read from the code.
SURVEY_ITEMS = {
    "communication_clear": "The district communicates clearly",
    "concerns_taken_seriously": "Concerns are taken seriously",
    "know_who_to_contact": "I know whom to contact",
    "treated_with_respect": "I am treated with respect",
    "staff_responsive": "Staff are responsive",
    "safe_at_school": "Students are safe at school",
}


def survey_figure(item_code: str) -> Figure:
    return Figure(
        SURVEY_PREFIX + item_code,
        item_title(item_code),
        "% agree",
        "higher",
        "answers",
        decimals=0,
    )


def figure(metric: str) -> Figure:
    if metric.startswith(SURVEY_PREFIX):
        return survey_figure(metric.removeprefix(SURVEY_PREFIX))
    return FIGURES[metric]


def item_title(item_code: str) -> str:
    return SURVEY_ITEMS.get(item_code) or item_code.replace("_", " ").capitalize()


def number(value: float | Decimal | None, fig: Figure) -> str:
    """The figure as shown: shares as percentages, with the figure's decimals and thousands
    separators; '-' for no value (callers say why there is none)."""
    if value is None:
        return "-"
    v = Decimal(str(value)) * (100 if fig.percent else 1)
    decimals = 1 if fig.percent else fig.decimals
    # half up, as a reader rounds (float formatting would show 87.65 % as 87.6 %)
    v = v.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return f"{v:,.{decimals}f}"


def with_unit(value: float | Decimal | None, fig: Figure) -> str:
    if value is None:
        return "no value"
    shown = number(value, fig)
    return f"{shown} %" if fig.unit.startswith("%") else f"{shown} {fig.unit}"


def short(value: float | Decimal | None, fig: Figure) -> str:
    """The number with a short unit, where the unit is already said nearby (a card)."""
    if value is None:
        return "no value"
    shown = number(value, fig)
    return f"{shown} %" if fig.unit.startswith("%") else shown


def long_date(day: dt.date) -> str:
    """A date as US districts write it ('October 15, 2025'); the one place to change it."""
    return f"{day:%B} {day.day}, {day.year}"


def month_label(day: dt.date) -> str:
    return f"{day:%b %Y}"


def school_year_label(school_year: int) -> str:
    """2026 -> '2025-26' (school years are named by their end year)."""
    return f"{school_year - 1}-{school_year % 100:02d}"
