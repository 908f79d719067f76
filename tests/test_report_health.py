"""Service health on the district page, on small hand-made mart rows (issue 18): the
correlation in words, buckets under n with their count, the last 30 service days of the
backlog and how long contacts have been past due without a break; and both charts render."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from schoolcx.report import charts
from schoolcx.report.health import (
    BUCKETS,
    build_health,
    correlation_words,
    finding,
    past_due_streak,
)

AS_OF = dt.date(2026, 2, 20)


def test_correlation_in_words_a_superintendent_reads():
    assert correlation_words(D("-0.2"), 400, 30) == (
        "weak negative: ratings fall as waits grow (Spearman -0.20 over 400 rated contacts)"
    )
    assert correlation_words(D("-0.5774"), 40, 30).startswith("strong negative: ratings fall")
    assert correlation_words(D("0.35"), 40, 30).startswith("moderate positive: ratings rise")
    assert correlation_words(D("0.05"), 40, 30).startswith("no clear link")
    assert correlation_words(None, 12, 30) == (
        "not enough rated, answered contacts to say (12; at least 30 needed)"
    )
    assert correlation_words(None, 80, 30).startswith("no measurable link")
    assert finding(D("-0.2")) == "Faster answers, better ratings: ratings fall as waits grow"
    assert finding(None).endswith("Not enough ratings to say")


def _drivers(counts: dict[str, int], rho=D("-0.25"), n=120) -> list[dict]:
    return [
        {
            "district_id": "1700001",
            "school_year": 2026,
            "response_bucket": key,
            "rating_count": counts.get(key, 0),
            "feedback_score": D("4.10") if counts.get(key, 0) >= 30 else None,
            "positive_share": D("0.8") if counts.get(key, 0) >= 30 else None,
            "suppressed_below_n": counts.get(key, 0) < 30,
            "spearman_n": n,
            "spearman_rho": rho,
        }
        for key, _ in BUCKETS
    ]


def _day(day: dt.date, backlog: int, past_due: int, service: bool = True) -> dict:
    return {
        "local_date": day,
        "backlog": backlog,
        "past_due": past_due,
        "is_service_day": service,
        "aged_under_1": backlog - past_due,
        "aged_1_2": 0,
        "aged_2_5": 0,
        "aged_5_10": past_due,
        "aged_10_plus": 0,
    }


def test_buckets_under_n_show_their_count_not_a_score():
    h = build_health(_drivers({"under_1_hour": 90, "1_to_4_hours": 12}), [], AS_OF, 30)
    first, second, empty = h.buckets[0], h.buckets[1], h.buckets[5]
    assert (first.rating_count, first.feedback_score, first.suppressed) == (90, D("4.10"), None)
    assert (second.rating_count, second.feedback_score) == (12, None)
    assert second.suppressed == "too few ratings to show (fewer than 30: 12)"
    assert empty.rating_count == 0 and empty.suppressed
    assert [b.bucket for b in h.buckets] == [k for k, _ in BUCKETS]


def test_backlog_keeps_the_last_30_service_days_and_counts_the_past_due_streak():
    days = []
    for i in range(60):
        day = AS_OF - dt.timedelta(days=59 - i)
        service = day.isoweekday() <= 5
        # past due on the last 9 calendar days only (weekend included), none on day 51
        days.append(_day(day, 10 + i, 2 if i > 50 else 0, service))
    h = build_health(_drivers({}), days, AS_OF, 30)
    assert len(h.backlog_days) == 30
    assert all(d.local_date.isoweekday() <= 5 for d in h.backlog_days)
    assert h.backlog_days[-1].local_date == AS_OF
    assert (h.past_due_now, h.past_due_days) == (2, 9)
    assert "2 contacts were past due" in h.past_due_words and "9 days in a row" in h.past_due_words
    assert past_due_streak([_day(AS_OF, 3, 0)], AS_OF) == 0
    assert build_health(_drivers({}), [_day(AS_OF, 3, 0)], AS_OF, 30).past_due_words == (
        "No contact was past due at the end of the day."
    )


def test_both_charts_render_to_named_svg():
    h = build_health(
        _drivers({"under_1_hour": 90, "1_to_4_hours": 12}),
        [_day(AS_OF - dt.timedelta(days=i), 5, 1) for i in range(5)],
        AS_OF,
        30,
    )
    ratings = charts.rating_chart(h.buckets)
    backlog = charts.backlog_chart(h.backlog_days)
    assert ratings.startswith('<svg role="img" aria-label="Rating by time to first answer')
    assert "n=12, too few" in ratings and "4.10 (n=90)" in ratings
    # bars start at the axis's 1 (x = 0 px), never left of the plot
    assert 'aria-roledescription="bar" d="M0,' in ratings and 'd="M-' not in ratings
    assert backlog.startswith('<svg role="img" aria-label="Contacts waiting')
    assert "10+ days" in backlog
