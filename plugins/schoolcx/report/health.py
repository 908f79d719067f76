"""Service health on the district page, in words and numbers (issue 18): what moves the
rating (rating_drivers) and what is waiting (fct_backlog_daily).

Pure functions of mart rows, like view.py, so the wording is tested on hand-made rows: the
correlation in words a superintendent reads, buckets under n shown with their count (never a
blank), the last 30 service days of the backlog by age, and how long contacts have been past
due without a break.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

BUCKETS: tuple[tuple[str, str], ...] = (
    ("under_1_hour", "Under 1 hour"),
    ("1_to_4_hours", "1 to 4 hours"),
    ("4_hours_to_1_day", "4 hours to 1 service day"),
    ("1_to_2_days", "1 to 2 service days"),
    ("2_days_or_more", "2 service days or more"),
    ("unanswered_when_rated", "Not answered when rated"),
)
BUCKET_LABELS = dict(BUCKETS)
AGES: tuple[tuple[str, str], ...] = (
    ("aged_under_1", "under 1 day"),
    ("aged_1_2", "1-2 days"),
    ("aged_2_5", "2-5 days"),
    ("aged_5_10", "5-10 days"),
    ("aged_10_plus", "10+ days"),
)
BACKLOG_SERVICE_DAYS = 30


@dataclass
class RatingBucket:
    bucket: str
    label: str
    rating_count: int
    feedback_score: Decimal | None
    positive_share: Decimal | None
    suppressed: str | None  # why no score is shown, with the count


@dataclass
class BacklogDay:
    local_date: dt.date
    backlog: int
    past_due: int
    ages: dict[str, int]


@dataclass
class ServiceHealth:
    school_year: int | None
    buckets: list[RatingBucket]
    spearman_rho: Decimal | None
    spearman_n: int
    correlation: str  # in words
    finding: str  # the heading: the finding, not the chart type
    backlog_days: list[BacklogDay] = field(default_factory=list)
    past_due_now: int = 0
    past_due_days: int = 0  # consecutive days up to the as-of date with contacts past due
    as_of: dt.date | None = None

    @property
    def past_due_words(self) -> str:
        if self.past_due_now == 0:
            return "No contact was past due at the end of the day."
        contacts = (
            "1 contact was" if self.past_due_now == 1 else f"{self.past_due_now:,} contacts were"
        )
        days = "day" if self.past_due_days == 1 else "days"
        return (
            f"{contacts} past due at the end of the day (unanswered past the first-response "
            f"target, or open longer than the district's limit); contacts have been past due "
            f"for {self.past_due_days:,} {days} in a row."
        )


def correlation_words(rho: Decimal | None, n: int, n_min: int) -> str:
    """The Spearman correlation of wait and rating in words: strength, sign and what it means."""
    if rho is None:
        if n < n_min:
            return f"not enough rated, answered contacts to say ({n:,}; at least {n_min} needed)"
        return "no measurable link: every wait or every rating was the same"
    size = abs(float(rho))
    detail = f" (Spearman {float(rho):+.2f} over {n:,} rated contacts)"
    if size < 0.1:
        return "no clear link: ratings do not move with waits" + detail
    strength = "weak" if size < 0.3 else "moderate" if size < 0.5 else "strong"
    if rho < 0:
        return f"{strength} negative: ratings fall as waits grow" + detail
    return f"{strength} positive: ratings rise as waits grow" + detail


def finding(rho: Decimal | None) -> str:
    if rho is None:
        return "Faster answers, better ratings? Not enough ratings to say"
    if rho <= Decimal("-0.1"):
        return "Faster answers, better ratings: ratings fall as waits grow"
    if rho >= Decimal("0.1"):
        return "Faster answers, better ratings? Not here: ratings rise as waits grow"
    return "Faster answers, better ratings? Ratings barely move with waits"


def past_due_streak(rows: list[dict], as_of: dt.date) -> int:
    """Consecutive local dates up to `as_of` whose day ended with contacts past due."""
    by_date = {r["local_date"]: int(r["past_due"]) for r in rows}
    days, day = 0, as_of
    while by_date.get(day, 0) > 0:
        days += 1
        day -= dt.timedelta(days=1)
    return days


def build_health(
    drivers: list[dict], backlog: list[dict], as_of: dt.date, n_min: int
) -> ServiceHealth:
    """`drivers`: rating_drivers rows of one district and school year; `backlog`:
    fct_backlog_daily rows up to `as_of` with is_service_day (fct_daily_volume)."""
    by_bucket = {r["response_bucket"]: r for r in drivers}
    buckets = []
    for key, label in BUCKETS:
        r = by_bucket.get(key, {})
        count = int(r.get("rating_count") or 0)
        below = bool(r.get("suppressed_below_n", count < n_min))
        buckets.append(
            RatingBucket(
                key,
                label,
                count,
                None if below else r.get("feedback_score"),
                None if below else r.get("positive_share"),
                f"too few ratings to show (fewer than {n_min}: {count:,})" if below else None,
            )
        )
    first = drivers[0] if drivers else {}
    rho, n = first.get("spearman_rho"), int(first.get("spearman_n") or 0)
    service = [r for r in backlog if r["local_date"] <= as_of and r.get("is_service_day")]
    last = sorted(service, key=lambda r: r["local_date"])[-BACKLOG_SERVICE_DAYS:]
    today = next((r for r in backlog if r["local_date"] == as_of), None)
    return ServiceHealth(
        school_year=first.get("school_year"),
        buckets=buckets,
        spearman_rho=rho,
        spearman_n=n,
        correlation=correlation_words(rho, n, n_min),
        finding=finding(rho),
        backlog_days=[
            BacklogDay(
                r["local_date"],
                int(r["backlog"]),
                int(r["past_due"]),
                {key: int(r[key]) for key, _ in AGES},
            )
            for r in last
        ],
        past_due_now=int(today["past_due"]) if today else 0,
        past_due_days=past_due_streak(backlog, as_of),
        as_of=as_of,
    )
