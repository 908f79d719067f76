"""The district page in words, on small hand-made mart rows: peer groups, suppression with its
reason and count, direction in words and icons, survey items by gap to peers, what changed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from schoolcx.report.figures import FIGURES, number, school_year_label, with_unit
from schoolcx.report.view import (
    band_words,
    build_view,
    change_sentence,
    direction_icon,
    direction_words,
    peer_group_words,
    peer_position,
    sla_rows,
    suppression_words,
    what_changed,
)

NAMES = {"prairie-east": "Prairie East Rural Schools Consortium", "ci": "The Central Illinois"}
FRT = FIGURES["median_first_response_business_minutes"]
VOLUME = FIGURES["interactions_per_1000_students_per_service_day"]
SCORE = FIGURES["feedback_score"]
START = dt.date(2025, 7, 1)


def test_peer_groups_read_as_words_with_consortium_names_and_bands():
    assert (
        peer_group_words("consortium_and_enrollment_band", "prairie-east / under 2,500", 6, NAMES)
        == "6 districts in the Prairie East Rural Schools Consortium, under 2,500 students"
    )
    assert peer_group_words("consortium", "ci", 12, NAMES) == "12 districts in The Central Illinois"
    assert (
        peer_group_words("state_and_enrollment_band", "IL / 2,500-4,999", 7, NAMES)
        == "7 districts in Illinois, 2,500-4,999 students"
    )
    assert peer_group_words("all_districts", "all", 1234, NAMES) == (
        "all 1,234 districts in this warehouse"
    )
    # an id the config does not name is shown as it is, never dropped
    assert peer_group_words("consortium", "gone", 5, NAMES) == "5 districts in the gone"
    assert peer_group_words(None, None, None, NAMES) == "no peer group"
    assert band_words("75,000 and over") == "75,000 students and over"


def test_suppression_says_why_with_the_count_never_zero_or_blank():
    assert suppression_words(None, 5, 30, "ratings", 12) is None
    assert (
        suppression_words("no_peer_group_meets_k", 5, 30, "ratings", 12)
        == "suppressed: fewer than 5 peer districts"
    )
    assert (
        suppression_words("district_below_n", 5, 30, "ratings", 22)
        == "suppressed: fewer than 30 ratings (22 ratings)"
    )
    assert suppression_words("district_below_n", 4, 40, "interactions", 1_234) == (
        "suppressed: fewer than 40 interactions (1,234 interactions)"
    )


def test_direction_in_words_and_icon_follows_the_figures_better_side():
    # faster answers: the number went down, which is better
    assert direction_words("improving", FRT, D("-30")) == "lower, better than last year"
    assert direction_icon("improving", D("-30")) == "▲"
    assert direction_words("declining", SCORE, D("-0.4")) == "lower, worse than last year"
    assert direction_icon("declining", D("-0.4")) == "▼"
    assert direction_words("steady", SCORE, D("0.01")) == "about the same as last year"
    # volume has no better side: only the move, with an arrow of the move
    assert direction_words(None, VOLUME, D("1.2")) == "higher than last year"
    assert direction_icon(None, D("1.2")) == "↑"
    assert direction_words(None, VOLUME, None) == "no comparison with last year"


def test_position_against_the_middle_half_of_peers():
    assert peer_position(D(50), D(40), D(60), FRT) == "within the middle half of peers"
    assert peer_position(D(30), D(40), D(60), FRT) == "below the middle half of peers (better)"
    assert peer_position(D("3.1"), D("3.5"), D(4), SCORE) == (
        "below the middle half of peers (worse)"
    )
    assert peer_position(D(9), D(4), D(6), VOLUME) == "above the middle half of peers"


def test_numbers_carry_their_units():
    assert with_unit(D("312.4"), FRT) == "312 business minutes"
    assert with_unit(D("4.213"), SCORE) == "4.21 out of 5"
    assert with_unit(D("0.8765"), FIGURES["sla_met_share"]) == "87.7 %"
    assert number(D("1234.5"), VOLUME) == "1,234.50"
    assert school_year_label(2026) == "2025-26"


def _peer(metric, median, p25, p75, n=6, reason=None, period=("school_year", START)):
    return {
        "metric": metric,
        "period_type": period[0],
        "period_start": period[1],
        "peer_group": None if reason == "no_peer_group_meets_k" else "consortium",
        "peer_group_key": None if reason == "no_peer_group_meets_k" else "prairie-east",
        "n_districts": None if reason == "no_peer_group_meets_k" else n,
        "peer_p25": p25,
        "peer_median": median,
        "peer_p75": p75,
        "percentile_rank": None if reason else D("0.5"),
        "suppression_reason": reason,
    }


def _view(peers, survey, yoy=(), sla=()):
    year = {
        "period_start": START,
        "interactions": 400,
        "rating_count": 22,
        "interactions_per_1000_students_per_service_day": D("3.2"),
        "median_first_response_business_minutes": D("95"),
        "feedback_score": D("4.10"),
        "high_risk_share": D("0.05"),
        "sla_met_share": D("0.9"),
    }
    return build_view(
        {"district_id": "1799401", "name": "Prairie Ridge CUSD 4"},
        as_of=dt.date(2025, 10, 15),
        k=5,
        n=30,
        consortium_names=NAMES,
        year_row=year,
        months=[],
        prior_months=[],
        peers=peers,
        yoy=list(yoy),
        survey=survey,
        sla=list(sla),
        high_risk_terms=[],
        span_start=START,
    )


def test_survey_items_sorted_by_gap_to_peers_suppressed_last():
    survey = [
        {"school_year": 2025, "item_code": "safe_at_school", "valid_answers": 80,
         "agree_answers": 40, "percent_agree": D("50")},
        {"school_year": 2026, "item_code": "safe_at_school", "valid_answers": 90,
         "agree_answers": 58, "percent_agree": D("65")},
        {"school_year": 2026, "item_code": "communication_clear", "valid_answers": 90,
         "agree_answers": 45, "percent_agree": D("50")},
        {"school_year": 2026, "item_code": "staff_responsive", "valid_answers": 90,
         "agree_answers": 81, "percent_agree": D("90")},
        {"school_year": 2026, "item_code": "know_who_to_contact", "valid_answers": 12,
         "agree_answers": 6, "percent_agree": D("50")},
    ]  # fmt: skip
    peers = [
        _peer("percent_agree.safe_at_school", D(64), D(58), D(71)),  # gap +1
        _peer("percent_agree.communication_clear", D(70), D(60), D(75)),  # gap -20
        _peer("percent_agree.staff_responsive", D(80), D(70), D(85)),  # gap +10
        _peer("percent_agree.know_who_to_contact", None, None, None,
              reason="no_peer_group_meets_k"),
    ]  # fmt: skip
    view = _view(peers, survey)
    assert view.survey_year == 2026
    assert [i.item_code for i in view.survey] == [
        "communication_clear",
        "safe_at_school",
        "staff_responsive",
        "know_who_to_contact",
    ]
    safe = view.survey[1]
    assert (safe.value, safe.prior, safe.gap) == (D(65), D(50), D(1))
    assert view.survey[-1].peers.suppressed == "suppressed: fewer than 5 peer districts"


def test_headline_card_with_district_below_n_keeps_its_value_and_says_why():
    peers = [
        _peer("feedback_score", D("4.3"), D("4.0"), D("4.5"), reason="district_below_n"),
        _peer("median_first_response_business_minutes", D(120), D(90), D(150)),
    ]
    view = _view(peers, [])
    score = next(c for c in view.cards if c.fig.metric == "feedback_score")
    assert score.value == D("4.10")
    assert score.peers.suppressed == "suppressed: fewer than 30 ratings (22 ratings)"
    assert score.peers.median == D("4.3")  # the group's aggregates are still shown
    frt = next(c for c in view.cards if c.fig.metric == "median_first_response_business_minutes")
    assert frt.peers.suppressed is None
    assert frt.peers.group == "6 districts in the Prairie East Rural Schools Consortium"
    assert frt.position == "within the middle half of peers"
    volume = view.cards[0]  # no peer row at all: suppressed, not zero
    assert volume.peers.median is None
    assert volume.peers.suppressed == "suppressed: fewer than 5 peer districts"
    assert view.peer_group == "6 districts in the Prairie East Rural Schools Consortium"


def test_what_changed_lists_the_largest_moves_in_plain_words():
    rows = [
        {"metric": "feedback_score", "current_value": D("4.10"), "prior_value": D("4.08"),
         "change": D("0.02"), "pct_change": D("0.49"), "direction": "steady"},
        {"metric": "median_first_response_business_minutes", "current_value": D(95),
         "prior_value": D(190), "change": D(-95), "pct_change": D(-50), "direction": "improving"},
        {"metric": "interactions_per_1000_students_per_service_day", "current_value": D("3.2"),
         "prior_value": D("2.5"), "change": D("0.7"), "pct_change": D(28), "direction": None},
        {"metric": "sla_met_share", "current_value": D("0.9"), "prior_value": None,
         "change": None, "pct_change": None, "direction": None},
    ]  # fmt: skip
    assert what_changed(rows) == [
        "Time to first answer (median): down 50 % on last year, better: 95 business minutes, "
        "against 190 a year ago.",
        "Contacts per 1,000 students: up 28 % on last year: 3.20 contacts per 1,000 students "
        "per service day, against 2.50 a year ago.",
        "Rating of the answer: about the same as last year: 4.10 out of 5, against 4.08 a "
        "year ago.",
    ]
    assert change_sentence(rows[3]) is None


def test_sla_by_priority_in_order_with_small_groups_suppressed():
    rows = sla_rows(
        [
            {"priority": "normal", "evaluated": 200, "met": 150, "interactions": 210},
            {"priority": "urgent", "evaluated": 7, "met": 7, "interactions": 7},
            {"priority": "high", "evaluated": 40, "met": 30, "interactions": 41},
        ],
        n=30,
    )
    assert [r.priority for r in rows] == ["urgent", "high", "normal"]
    assert rows[0].share is None
    assert rows[0].suppressed == "suppressed: fewer than 30 interactions (7 interactions)"
    assert rows[1].share == D("0.75") and rows[1].suppressed is None


def test_the_report_reads_published_marts_and_peers_through_one_function():
    """Only `marts` (and the publish log for the default as-of); peer statistics only through
    data.peer_rows, the one place the pooling work switches to a hub's returned figures."""
    import re
    from pathlib import Path

    import schoolcx.report as package

    sources = {p.name: p.read_text() for p in Path(package.__file__).parent.glob("*.py")}
    sql_text = "\n".join(
        line
        for line in sources["data.py"].splitlines()
        if not line.startswith(("from ", "import "))
    )
    read = set(re.findall(r"\b(?:from|join)\s+([a-z_]+)\.([a-z_]+)", sql_text))
    assert {schema for schema, _ in read} == {"marts", "ops"}
    assert {t for s, t in read if s == "ops"} == {"publish_log"}
    assert [name for name, text in sources.items() if "marts.peer_benchmarks" in text] == [
        "data.py"
    ]
    data_py = sources["data.py"]
    body = data_py[data_py.index("def peer_rows") :]
    body = body[: body.index("\ndef ", 1)]
    assert data_py.count("marts.peer_benchmarks") == body.count("marts.peer_benchmarks") == 1


def test_index_cells_say_better_or_worse_in_words():
    from schoolcx.report.view import Card, Peers

    def card(fig, direction, change):
        return Card(fig, D(1), Peers(), D(1), direction, change, None, 40)

    assert card(FRT, "improving", D(-5)).brief_direction == "better than last year"
    assert card(SCORE, "declining", D("-0.3")).brief_direction == "worse than last year"
    assert card(SCORE, "steady", D("0.01")).brief_direction == "about the same as last year"
    assert card(VOLUME, None, D("0.4")).brief_direction == "higher than last year"
    assert card(VOLUME, None, None).brief_direction == "no comparison with last year"
