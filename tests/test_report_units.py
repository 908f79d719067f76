"""The unit sections and school pages in words (schoolcx.report.units), on hand-made rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from schoolcx.report.figures import FIGURES
from schoolcx.report.units import rank_words, school_view, unit_sections

N = 30


def row(unit_type, key, interactions, ratings=0, median=None, reason=None, **extra) -> dict:
    return {
        "unit_type": unit_type,
        "unit_key": key,
        "is_unmapped": key == "(unmapped)",
        "interactions": interactions,
        "rating_count": ratings,
        "share_of_district_interactions": Decimal(interactions) / 100,
        "interactions_per_1000_students_per_service_day": extra.get("volume"),
        "median_first_response_business_minutes": median,
        "sla_met_share": extra.get("sla"),
        "feedback_score": extra.get("feedback"),
        "suppression_reason": reason,
        "enrollment": extra.get("enrollment"),
    }


ROWS = [
    row("school", "(unmapped)", 50, median=Decimal(40)),
    row("school", "170000100002", 12, reason="unit_below_n", volume=Decimal("0.5")),
    row("school", "170000100001", 38, 4, Decimal(25), "ratings_below_n", volume=Decimal("1.2")),
    row("language", "unknown", 60, 40, Decimal(30), feedback=Decimal("4.10")),
    row("language", "es", 40, 31, Decimal(35), feedback=Decimal("3.90")),
]
NAMES = {"170000100001": "Prairie Ridge Elementary", "170000100002": "Mackinaw Bend"}


def test_sections_put_the_most_contacts_first_and_the_remainder_last_in_words():
    sections = unit_sections(ROWS, N, NAMES, {"170000100001", "170000100002"}, Decimal(32))
    assert [s.unit_type for s in sections] == ["school", "language"]
    schools = sections[0]
    assert [r.label for r in schools.rows] == [
        "Prairie Ridge Elementary",
        "Mackinaw Bend",
        "No school: central office or unmapped",
    ]
    assert [r.label for r in sections[1].rows] == ["Not recorded", "Spanish"]
    # under n interactions: suppressed with the count; under n ratings: feedback only
    below = schools.rows[1]
    assert below.suppressed == "suppressed: fewer than 30 interactions (12 interactions)"
    at = schools.rows[0]
    assert at.suppressed is None
    assert at.feedback_suppressed == "suppressed: fewer than 30 ratings (4 ratings)"
    assert at.page == "school-170000100001.html" and schools.rows[2].page is None
    # the chart shows units with a median only, never the remainder
    assert [r.key for r in schools.charted] == ["170000100001"]


def test_rank_words_count_the_other_schools_doing_worse():
    median = FIGURES["median_first_response_business_minutes"]
    assert rank_words(Decimal("0.75"), 5, median) == (
        "better than 3 of 4 other schools with enough contacts"
    )
    assert (
        rank_words(Decimal(1), 2, median) == "better than 1 of 1 other school with enough contacts"
    )
    assert rank_words(None, 5, median) is None  # under n: not ranked
    assert rank_words(Decimal(0), 1, median) is None  # alone
    volume = FIGURES["interactions_per_1000_students_per_service_day"]
    assert rank_words(Decimal("0.5"), 3, volume) is None  # no better direction


def test_a_school_page_compares_with_the_other_schools_and_the_district():
    sections = unit_sections(ROWS, N, NAMES, {"170000100001", "170000100002"}, Decimal(32))
    schools = sections[0].rows
    view = school_view(
        schools[0],
        schools,
        ROWS[2],
        [
            {
                "unit_key": "170000100001",
                "metric": "median_first_response_business_minutes",
                "percentile_rank": None,
                "n_units": 1,
            }
        ],
        {"district_id": "1799401", "name": "Prairie Ridge CUSD"},
        {"median_first_response_business_minutes": Decimal(32), "feedback_score": Decimal("4")},
        N,
        dt.date(2026, 3, 15),
        "July 1, 2025 to March 15, 2026",
        "district-1799401.html",
    )
    by_metric = {c.fig.metric: c for c in view.comparisons}
    median = by_metric["median_first_response_business_minutes"]
    assert (median.value, median.district_value, median.others) == (Decimal(25), 32, [])
    # the other school is under n: its median is not among the others; its volume is
    assert by_metric["interactions_per_1000_students_per_service_day"].others == [Decimal("0.5")]
    feedback = by_metric["feedback_score"]
    assert feedback.value is None
    assert feedback.suppressed == "suppressed: fewer than 30 ratings (4 ratings)"
    assert [s.key for s in view.schools] == ["170000100001", "170000100002"]
