"""A plain, slow, obviously-correct implementation of docs/metrics.md over a generated World.

Tests compare the dbt marts with these numbers, so this module favours the literal reading of
the contract over speed: business time walks the calendar one local day at a time, building
each service interval in wall-clock time and converting it with zoneinfo.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache, cached_property
from zoneinfo import ZoneInfo

import holidays
import yaml

from schoolcx.config import DEFAULT_HIGH_RISK_TERMS, WEEKDAYS, DeploymentConfig, District
from schoolcx.sandbox.demo.world import Interaction, Rating, World

DONE = ("solved", "closed")
PRIORITY_ORDER = ("low", "normal", "high", "urgent")
SCALES = {"1-5": (1, 5), "1-10": (1, 10), "0-10": (0, 10)}
ONE_DAY = dt.timedelta(days=1)
SURVEY_TYPES = ("qualtrics", "surveymonkey")


@dataclass(frozen=True)
class Calendar:
    zone: ZoneInfo
    open: dt.time
    close: dt.time
    weekdays: frozenset[int]  # ISO weekday numbers
    district_closures: frozenset[dt.date]
    federal_holidays: bool = True

    @classmethod
    def for_district(cls, district: District) -> Calendar:
        cal = district.calendar
        listed = {day for c in cal.closure_list() for day in c.dates()}
        return cls(
            ZoneInfo(district.timezone),
            cal.open,
            cal.close,
            frozenset(WEEKDAYS[w] for w in cal.weekdays),
            frozenset(listed),
            cal.federal_holidays,
        )

    @cached_property
    def _federal(self) -> holidays.HolidayBase:
        # Observed days included, no state subdivision; years are filled in on lookup.
        return holidays.US()

    @cache  # noqa: B019 - calendars are few, immutable and live as long as a test run
    def is_service_day(self, day: dt.date) -> bool:
        if day.isoweekday() not in self.weekdays or day in self.district_closures:
            return False
        return not (self.federal_holidays and day in self._federal)

    @cache  # noqa: B019
    def interval(self, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        """The service interval [open, close) of a local day, in UTC."""
        opens = dt.datetime.combine(day, self.open, tzinfo=self.zone).astimezone(dt.UTC)
        closes = dt.datetime.combine(day, self.close, tzinfo=self.zone).astimezone(dt.UTC)
        return opens, closes

    def local_date(self, t: dt.datetime) -> dt.date:
        return t.astimezone(self.zone).date()

    def business_seconds(self, t0: dt.datetime, t1: dt.datetime) -> float:
        """Seconds of [t0, t1) inside service intervals."""
        total = 0.0
        day = self.local_date(t0) - ONE_DAY
        while day <= self.local_date(t1) + ONE_DAY:
            if self.is_service_day(day):
                opens, closes = self.interval(day)
                overlap = (min(closes, t1) - max(opens, t0)).total_seconds()
                total += max(0.0, overlap)
            day += ONE_DAY
        return total

    def business_minutes(self, t0: dt.datetime, t1: dt.datetime) -> float:
        return self.business_seconds(t0, t1) / 60

    def is_open(self, t: dt.datetime) -> bool:
        day = self.local_date(t)
        if not self.is_service_day(day):
            return False
        opens, closes = self.interval(day)
        return opens <= t < closes

    def service_days(self, first: dt.date, last: dt.date) -> int:
        return sum(
            1
            for k in range((last - first).days + 1)
            if self.is_service_day(first + dt.timedelta(days=k))
        )

    def end_of(self, day: dt.date) -> dt.datetime:
        """The as-of instant of a run covering local date `day`: the next local midnight."""
        return dt.datetime.combine(day + ONE_DAY, dt.time(0), tzinfo=self.zone).astimezone(dt.UTC)


def calendar_minutes(t0: dt.datetime, t1: dt.datetime) -> float:
    return (t1 - t0).total_seconds() / 60


def config_of(world: World) -> DeploymentConfig:
    return DeploymentConfig.model_validate(yaml.safe_load(world.config_yaml))


# -- one interaction ----------------------------------------------------------------------------


def _events(i: Interaction, as_of: dt.datetime | None):
    ordered = sorted(i.events, key=lambda e: e.at)  # stable: same-instant events keep order
    return [e for e in ordered if as_of is None or e.at <= as_of]


def first_response_at(i: Interaction, as_of: dt.datetime | None = None) -> dt.datetime | None:
    """First non-automated agent reply after created_at. An agent-opened ticket's opening
    comment is not a response (Zendesk: the first reply is the agent's second public one)."""
    opening_skipped = not i.opened_by_agent
    for e in _events(i, as_of):
        if e.kind != "agent_reply":
            continue
        if not opening_skipped:
            opening_skipped = True
            continue
        if e.at > i.created_at:
            return e.at
    return None


def resolved_at(i: Interaction, as_of: dt.datetime | None = None) -> dt.datetime | None:
    """The last entry into solved/closed when the current status is solved or closed.
    solved -> closed is not a new entry: the ticket was already done."""
    entry, previous = None, None
    for e in _events(i, as_of):
        if e.kind != "status":
            continue
        if e.status in DONE and previous not in DONE:
            entry = e.at
        previous = e.status
    return entry if previous in DONE else None


def was_reopened(i: Interaction, as_of: dt.datetime | None = None) -> bool:
    statuses = [e.status for e in _events(i, as_of) if e.kind == "status"]
    return any(a in DONE and b not in DONE for a, b in itertools.pairwise(statuses))


_SEPARATORS = r"[\s_-]+"
# a word character for the boundary test: a letter or digit (`_` is a boundary, docs/metrics.md)
_WORD = r"[^\W_]"


def _term_words(term: str) -> list[str]:
    return [w for w in re.split(_SEPARATORS, term.strip().lower()) if w]


@cache
def _term_pattern(term: str) -> re.Pattern[str]:
    """`special education` -> special, any run of whitespace / _ / -, education; neither end
    next to another letter or digit."""
    words = _term_words(term)
    body = _SEPARATORS.join(re.escape(w) for w in words)
    return re.compile(f"(?<!{_WORD}){body}(?!{_WORD})", re.IGNORECASE)


@cache
def _terms(extra: tuple[str, ...]) -> frozenset[str]:
    return frozenset(t for t in (*DEFAULT_HIGH_RISK_TERMS, *extra) if _term_words(t))


def high_risk_terms(district: District) -> frozenset[str]:
    return _terms(tuple(district.high_risk_terms))


def high_risk_term(i: Interaction, district: District, source_type: str) -> str | None:
    """docs/metrics.md "Response time", literally: a district term matching one of the tags, the
    topic / category, or the subject (the ticket's; an email thread's first), case-insensitive,
    as a whole word or phrase. The matched term in its normal form (words joined by one space),
    the first in alphabetical order when several match; None when none does.

    A file drop carries the topic as a category column; helpdesks carry tags (the generator
    puts the topic first among them) and a subject; email carries only the subject (the
    thread's first message is the interaction's subject)."""
    texts = [t for t in i.tags if t.strip()]
    if source_type == "file_drop" and i.topic.strip():
        texts.append(i.topic)
    if source_type in ("zendesk", "freshdesk", "imap"):
        texts.append(i.subject)
    matched = {
        " ".join(_term_words(term))
        for term in high_risk_terms(district)
        if any(_term_pattern(term).search(text) for text in texts)
    }
    return min(matched) if matched else None


def is_high_risk(i: Interaction, district: District, source_type: str) -> bool:
    return high_risk_term(i, district, source_type) is not None


def effective_priority(i: Interaction, high_risk: bool) -> str:
    if high_risk and PRIORITY_ORDER.index(i.priority) < PRIORITY_ORDER.index("high"):
        return "high"
    return i.priority


def sla_met(
    i: Interaction, district: District, cal: Calendar, as_of: dt.datetime, high_risk: bool = False
) -> bool | None:
    """True within target, False later or target elapsed unanswered, None while it runs.
    A response exactly at the target meets it; unanswered, the target has elapsed once
    strictly more business time than the target has passed."""
    target = district.sla_minutes()[effective_priority(i, high_risk)]
    answered = first_response_at(i, as_of)
    if answered is not None:
        return cal.business_minutes(i.created_at, answered) <= target
    if cal.business_minutes(i.created_at, as_of) > target:
        return False
    return None


# -- ratings ------------------------------------------------------------------------------------


def r5(value: int | str, scale: str) -> float:
    """A rating on the 1-5 scale; ValueError (quarantine) outside its scale."""
    if scale == "good_bad":
        if value not in ("good", "bad"):
            raise ValueError(f"{value!r} is not good/bad")
        return 5.0 if value == "good" else 1.0
    lo, hi = SCALES[scale]
    if isinstance(value, str) or not lo <= value <= hi:
        raise ValueError(f"{value!r} is outside {scale}")
    return 1 + 4 * (value - lo) / (hi - lo)


def r5_from_codes(code: int, accepted: list[int]) -> float:
    """Ordered codes (most unhappy first) are ranked 1..p and normalised as a 1..p scale."""
    if code not in accepted:
        raise ValueError(f"{code!r} is not one of {accepted}")
    p = len(accepted)
    return 1 + 4 * accepted.index(code) / (p - 1)


def latest_ratings(world: World, as_of: dt.datetime | None = None) -> dict[int, Rating]:
    """interaction_id -> its latest rating, from the helpdesk and point-of-contact surveys."""
    candidates: dict[int, list[Rating]] = {}
    for i in world.interactions:
        candidates.setdefault(i.interaction_id, []).extend(i.ratings)
    for r in world.survey_responses:
        if r.interaction_id is not None and r.rating is not None:
            candidates.setdefault(r.interaction_id, []).append(r.rating)
    out = {}
    for key, ratings in candidates.items():
        kept = [r for r in ratings if as_of is None or r.at <= as_of]
        if kept:
            out[key] = max(kept, key=lambda r: r.at)
    return out


# -- district figures ---------------------------------------------------------------------------


def percentile_cont(values: list[float], q: float) -> float | None:
    """PostgreSQL percentile_cont: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def school_year(day: dt.date) -> int:
    return day.year + (day.month >= 7)


def observed_from(district: District) -> dt.date:
    """The first local date the warehouse observes a district: its earliest interaction source's
    start_date (survey tools carry no interactions). Earlier dates are not zero-contact days."""
    return min(s.start_date for s in district.sources if s.type not in SURVEY_TYPES)


def interactions_of(
    world: World, district_id: str, cal: Calendar, first: dt.date, last: dt.date
) -> list[Interaction]:
    """Interactions created first..last (local dates), without those created before their own
    source's start_date (outside the configured history: quarantined, not counted)."""
    starts = {s.name: s.start_date for _, s in _sources_of(world)}
    return [
        i
        for i in world.interactions
        if i.district_id == district_id
        and first <= cal.local_date(i.created_at) <= last
        and cal.local_date(i.created_at) >= starts[i.source_name]
    ]


@cache
def _sources_of_yaml(config_yaml: str):
    return DeploymentConfig.model_validate(yaml.safe_load(config_yaml)).sources()


def _sources_of(world: World):
    return _sources_of_yaml(world.config_yaml)


def daily_volume_per_1000(
    world: World, cfg: DeploymentConfig, district_id: str, first: dt.date, last: dt.date
) -> dict[dt.date, float]:
    """Per local date: interactions created that date / enrollment * 1000 (zero days too)."""
    district = cfg.district(district_id)
    cal = Calendar.for_district(district)
    counts = Counter(
        cal.local_date(i.created_at) for i in interactions_of(world, district_id, cal, first, last)
    )
    days = [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]
    return {day: counts[day] / district.enrollment_for(school_year(day)) * 1000 for day in days}


def district_scorecard(
    world: World,
    cfg: DeploymentConfig,
    district_id: str,
    first: dt.date,
    last: dt.date,
    as_of: dt.datetime | None = None,
) -> dict:
    """The district_scorecard figures for the local dates first..last. `as_of` is the run's
    instant (default: the end of `last`), which decides which SLA targets have elapsed."""
    district = cfg.district(district_id)
    cal = Calendar.for_district(district)
    as_of = as_of or cal.end_of(last)
    types = {s.name: s.type for _, s in cfg.sources()}
    rows = interactions_of(world, district_id, cal, first, last)
    waits, sla, high = [], [], 0
    for i in rows:
        risky = is_high_risk(i, district, types[i.source_name])
        high += risky
        answered = first_response_at(i, as_of)
        if answered is not None:
            waits.append(cal.business_minutes(i.created_at, answered))
        met = sla_met(i, district, cal, as_of, risky)
        if met is not None:
            sla.append(met)
    latest = latest_ratings(world, as_of)
    scores = [r5(r.value, r.scale) for i in rows if (r := latest.get(i.interaction_id))]
    # a period partly before the district is observed counts its observed service days only
    service_days = cal.service_days(max(first, observed_from(district)), last)
    enrollment = district.enrollment_for(school_year(first))
    n = len(rows)
    return {
        "interactions": n,
        "answered_share": len(waits) / n if n else None,
        "median_first_response_minutes": percentile_cont(waits, 0.5),
        "p90_first_response_minutes": percentile_cont(waits, 0.9),
        "sla_met_share": sum(sla) / len(sla) if sla else None,
        "feedback_score": round(sum(scores) / len(scores), 2) if scores else None,
        "positive_share": sum(s >= 4 for s in scores) / len(scores) if scores else None,
        "rating_count": len(scores),
        "service_days": service_days,
        "enrollment": enrollment,
        "interactions_per_1000": n / service_days / enrollment * 1000 if service_days else None,
        "high_risk_share": high / n if n else None,
    }


def percent_agree(
    world: World, cfg: DeploymentConfig, district_id: str, year: int
) -> dict[str, float]:
    """Per item code: (agree + strongly agree) / valid answers * 100 over the district's
    climate survey responses submitted in the school year; dont_know and blanks not valid."""
    district = cfg.district(district_id)
    cal = Calendar.for_district(district)
    climate = {
        s.name
        for s in district.sources
        if s.type in ("qualtrics", "surveymonkey") and s.opts.kind == "climate"
    }
    valid: dict[str, list[int]] = {}
    for r in world.survey_responses:
        if r.source_name not in climate or school_year(cal.local_date(r.submitted_at)) != year:
            continue
        for item, answer in r.answers.items():
            if isinstance(answer, int) and 1 <= answer <= 5:
                valid.setdefault(item, []).append(answer)
    return {
        item: sum(a >= 4 for a in answers) / len(answers) * 100
        for item, answers in sorted(valid.items())
    }
