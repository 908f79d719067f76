"""Generate a seeded, deterministic world of district contacts (`generate_world`).

Shape, per district: about `contacts_per_1000` contacts per 1,000 students per service day with
a weekly and seasonal rhythm (August/September peak, summer low) and a trickle on evenings,
weekends and closures; helpdesk tickets with topics, priorities, auto-replies, notes, reopens
and satisfaction ratings that fall as the wait grows; email threads on monitored mailboxes;
a front-office phone log; climate and point-of-contact surveys. Local times are drawn in the
district's zone and kept in UTC. Nothing is dated after the end of the as-of local date.

Vendor conventions the emulators follow (see also configgen): Interaction.group_id and
organization_id are the vendor ids the config maps; helpdesk requesters carry their role as
the user/contact field `stakeholder_type`; Freshdesk ratings are on "1-5" (a 5-point survey whose
ranked codes normalise to the same value); the system user of a helpdesk has person_id -1.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import datetime as dt
import itertools
import math
import os
import random
import unicodedata
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from schoolcx.config import DeploymentConfig, District, load_config
from schoolcx.paths import PROJECT_ROOT
from schoolcx.sandbox.demo import configgen
from schoolcx.sandbox.demo.catalog import (
    CLIMATE_ITEMS,
    EMAIL_TOPICS,
    FIRST_NAMES,
    GROUPS,
    LAST_NAMES,
    LOCALES,
    PERSONAL_DOMAINS,
    TOPIC_BY_KEY,
    TOPICS,
    Topic,
)
from schoolcx.sandbox.demo.clock import ServiceClock
from schoolcx.sandbox.demo.spec import DemoSpec, DistrictSpec, SourceSpec, demo_spec, small_spec
from schoolcx.sandbox.demo.world import Event, Interaction, Person, Rating, SurveyAnswerSet, World

__all__ = [
    "DemoSpec",
    "demo_spec",
    "generate_world",
    "render_config",
    "render_demo_config",
    "small_spec",
    "write_demo_config",
    "write_file_drop",
]


class _Weighted:
    """A fixed table of (value, weight) to draw from; a bisect, as random.choices is slow."""

    def __init__(self, pairs) -> None:
        self.values, weights = zip(*pairs, strict=True)
        self.cum = list(itertools.accumulate(weights))

    def pick(self, rng: random.Random):
        return self.values[bisect.bisect(self.cum, rng.random() * self.cum[-1])]


HOUR = 3600.0
DAY = 86400.0
# Seasonal rhythm by month (back to school in August/September, summer low) and the weekly one
# (Mondays busiest). Non-service days keep a trickle: parents write on weekends and holidays.
MONTH_FACTOR = {
    7: 0.45,
    8: 1.5,
    9: 1.35,
    10: 1.1,
    11: 0.95,
    12: 0.75,
    1: 1.0,
    2: 0.95,
    3: 0.9,
    4: 0.9,
    5: 1.0,
    6: 0.5,
}
WEEKDAY_FACTOR = {1: 1.2, 2: 1.05, 3: 1.0, 4: 0.95, 5: 0.8, 6: 0.12, 7: 0.1}
CLOSED_WEEKDAY_FACTOR = 0.2
# Median first-response delay in business minutes per priority (scaled by the district's speed).
REPLY_MEDIAN = {"urgent": 45.0, "high": 160.0, "normal": 380.0, "low": 850.0}
UNANSWERED = {"urgent": 0.01, "high": 0.02, "normal": 0.04, "low": 0.09}
DONE = ("solved", "closed")
STAKEHOLDERS = _Weighted(
    (("parent", 0.72), ("student", 0.08), ("staff", 0.08), ("community", 0.12))
)
HR_REQUESTERS = _Weighted((("staff", 0.5), ("community", 0.5)))  # employees and applicants
MAIL_REQUESTERS = _Weighted((("parent", 0.7), ("student", 0.12), ("community", 0.18)))
CALLERS = _Weighted((("parent", 0.85), ("community", 0.15)))
RESPONDENTS = _Weighted((("parent", 0.55), ("student", 0.25), ("staff", 0.2)))
PRIORITIES = _Weighted((("urgent", 0.02), ("high", 0.12), ("normal", 0.66), ("low", 0.20)))
DISAGREE = _Weighted(((1, 0.2), (2, 0.35), (3, 0.45)))


def _locale_table(spanish_share: float) -> _Weighted:
    """The district's language mix: Spanish its own share, the other non-English languages as
    in LOCALES, English the rest."""
    others = [(code, w) for code, w in LOCALES if code not in ("en", "es")]
    english = 1.0 - spanish_share - sum(w for _, w in others)
    return _Weighted((("en", english), ("es", spanish_share), *others))


# Parents and community members whose helpdesk stakeholder field is blank (never asked).
ROLE_NOT_ON_FILE = 0.07
CHANNELS = {
    # "other": tickets an integration created through the API (Zendesk via.channel = api, the
    # most common channel in real accounts). It takes the top of web's share, so every other draw
    # keeps its channel.
    "zendesk": _Weighted(
        (
            ("web", 0.35),
            ("other", 0.10),
            ("email", 0.37),
            ("phone", 0.08),
            ("chat", 0.06),
            ("social", 0.04),
        )
    ),
    "freshdesk": _Weighted((("web", 0.42), ("email", 0.43), ("phone", 0.10), ("chat", 0.05))),
}
# How many people of a role a district's contacts come from, per student.
POOL_PER_STUDENT = {"parent": 3.0, "student": 1.0, "staff": 0.4, "community": 5.0}
TOPIC_TABLE = _Weighted((t, t.weight) for t in TOPICS)
EMAIL_TOPIC_TABLE = _Weighted((t, t.weight) for t in EMAIL_TOPICS)
SYSTEM = Person(person_id=-1, email="", name="System", role="system")


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:  # the normal approximation is close enough here, and Knuth's loop is slow
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _utc(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, dt.UTC)


class _Ids:
    """World-wide counters, so every id is unique across districts and sources."""

    def __init__(self) -> None:
        self.person = 10000
        self.interaction = 1000
        self.event = 100000

    def next_person(self) -> int:
        self.person += 1
        return self.person

    def next_interaction(self) -> int:
        self.interaction += 1
        return self.interaction


class _Timeline:
    """Events of one interaction as (epoch, kind, author, status) before they become Events."""

    def __init__(self, cutoff: float) -> None:
        self.cutoff = cutoff
        self.items: list[tuple[float, str, Person, str | None]] = []

    def add(self, t: float, kind: str, author: Person, status: str | None = None) -> None:
        self.items.append((float(math.floor(t)), kind, author, status))

    def events(self, ids: _Ids) -> list[Event]:
        out = []
        for t, kind, author, status in sorted(self.items, key=lambda e: e[0]):
            if t < self.cutoff:  # the world ends with the as-of local date
                ids.event += 1
                out.append(Event(_utc(t), kind, author, status, ids.event))  # type: ignore[arg-type]
        return out


class _DistrictWorld:
    """Generates one district: its people, contacts and survey responses."""

    def __init__(self, spec: DemoSpec, d: DistrictSpec, district: District, ids: _Ids):
        self.spec, self.d, self.district, self.ids = spec, d, district, ids
        self.rng = random.Random(f"{spec.seed}:{d.district_id}")
        self.clock = ServiceClock(
            district, spec.start - dt.timedelta(days=7), spec.as_of + dt.timedelta(days=90)
        )
        self.cutoff = self.clock.local(spec.as_of + dt.timedelta(days=1), 0)
        self.domain = configgen.mail_domain(d)
        self.school_ids = configgen.school_ids(d)
        # A family belongs to a school in proportion to its enrollment (the current year's).
        year = configgen.school_year(spec.as_of)
        self.school_table = _Weighted(
            (i, enr.get(year) or max(enr.values()))
            for i, enr in enumerate(configgen.school_enrollment(d))
        )
        self.locales = _locale_table(d.spanish_share)
        # Year-over-year movement: the current school year answers faster or slower.
        self.year_speed = {
            spec.as_of.year + (spec.as_of.month >= 7): self.rng.choice((0.75, 0.9, 1.0, 1.2, 1.35))
        }
        self.people: list[Person] = []
        self.home_school: dict[int, int] = {}  # person id -> index of their school
        self.pool: dict[str, list[Person]] = {}
        self.agents = {dep: self._person("agent") for dep in dict.fromkeys(GROUPS.values())}
        self.interactions: list[Interaction] = []
        self.responses: list[SurveyAnswerSet] = []
        self.vendor_ids = {
            s.name: (configgen.group_ids(d, s), configgen.organization_ids(d, s))
            for s in d.sources
            if s.type in ("zendesk", "freshdesk")
        }
        self.poc = next((s for s in d.sources if s.kind == "point_of_contact"), None)
        # Email ratings draw from their own stream, so adding them left the rest of the world
        # (every other draw of self.rng) as it was.
        self.mail_rng = random.Random(f"{spec.seed}:{d.district_id}:email-ratings")

    # -- people --------------------------------------------------------------------------------

    def _person(self, role: str, email: str | None = None, name: str | None = None) -> Person:
        pid = self.ids.next_person()
        locale = "en" if role in ("agent", "staff", "system") else self.locales.pick(self.rng)
        first = self.rng.choice(FIRST_NAMES[locale])
        last = self.rng.choice(LAST_NAMES[locale])
        if email is None:
            email = self._email(role, _ascii(first), _ascii(last), pid)
        on_file = role not in ("parent", "community") or self.rng.random() >= ROLE_NOT_ON_FILE
        person = Person(pid, email, name or f"{first} {last}", role, locale, on_file)  # type: ignore[arg-type]
        self.people.append(person)
        # Parents and students belong to a school; some staff work at one, others centrally.
        if role in ("parent", "student") or (role == "staff" and self.rng.random() < 0.6):
            self.home_school[pid] = self.school_table.pick(self.rng)
        return person

    def _email(self, role: str, first: str, last: str, pid: int) -> str:
        if role in ("agent", "staff"):
            return f"{first[0]}{last}{pid % 1000}@{self.domain}"
        if role == "student":
            return f"{first}.{last}{pid % 1000}@{configgen.student_domain(self.d)}"
        if role == "community" and self.rng.random() < 0.3:
            return f"{first}.{last}@{configgen.community_domain(self.d)}"
        return f"{first}.{last}{pid % 1000}@{self.rng.choice(PERSONAL_DOMAINS)}"

    def _requester(self, role: str) -> Person:
        """Someone new, less often as the community fills up: repeat contacts exist, and a
        district of 60 students does not have thousands of parents."""
        pool = self.pool.setdefault(role, [])
        cap = POOL_PER_STUDENT[role] * self.district.enrollment_for(self.spec.as_of.year) + 5
        if pool and self.rng.random() < len(pool) / cap:
            return self.rng.choice(pool)
        person = self._person(role)
        pool.append(person)
        return person

    # -- volume and time of day ----------------------------------------------------------------

    def _school_year(self, day: dt.date) -> int:
        return day.year + (day.month >= 7)

    def _weight(self, day: dt.date) -> float:
        if day in self.clock.service_days:
            boost = 1.25 if day.month == 8 and day.day >= 10 else 1.0  # back-to-school rush
            return MONTH_FACTOR[day.month] * WEEKDAY_FACTOR[day.isoweekday()] * boost
        if day.isoweekday() >= 6:
            return MONTH_FACTOR[day.month] * WEEKDAY_FACTOR[day.isoweekday()]
        return MONTH_FACTOR[day.month] * CLOSED_WEEKDAY_FACTOR

    def _daily_expectation(self) -> list[tuple[dt.date, float]]:
        """Expected contacts per local date, scaled so the whole span averages the knob per
        1,000 students per service day (off-day contacts included, as the metric counts)."""
        days = [
            self.spec.start + dt.timedelta(days=i)
            for i in range((self.spec.as_of - self.spec.start).days + 1)
        ]
        weights = [self._weight(day) for day in days]
        service = sum(1 for day in days if day in self.clock.service_days)
        scale = service / sum(weights)
        return [
            (
                day,
                self.spec.contacts_per_1000
                / 1000
                * self.district.enrollment_for(self._school_year(day))
                * w
                * scale,
            )
            for day, w in zip(days, weights, strict=True)
        ]

    def _time_of_day(self, day: dt.date) -> float:
        cal = self.district.calendar
        opens = cal.open.hour * HOUR + cal.open.minute * 60
        closes = cal.close.hour * HOUR + cal.close.minute * 60
        r = self.rng.random()
        if day not in self.clock.service_days:
            second = (
                self.rng.uniform(8 * HOUR, 21 * HOUR)
                if r < 0.9
                else self.rng.uniform(21 * HOUR, 24 * HOUR - 1)
            )
        elif r < 0.55:
            second = self.rng.uniform(opens, closes)
        elif r < 0.76:  # the morning rush before first bell
            second = self.rng.uniform(opens, opens + 2 * HOUR)
        elif r < 0.94:
            second = self.rng.uniform(closes, 22 * HOUR)
        elif r < 0.98:
            second = self.rng.uniform(6 * HOUR, opens)
        else:
            second = self.rng.uniform(0, 6 * HOUR)
        return float(math.floor(self.clock.local(day, second)))

    # -- the contacts --------------------------------------------------------------------------

    def run(self) -> None:
        sources = [s for s in self.d.sources if s.share > 0]
        shares = [s.share for s in sources]
        contacts: list[tuple[float, SourceSpec]] = []
        for day, expected in self._daily_expectation():
            for _ in range(_poisson(self.rng, expected)):
                source = self.rng.choices(sources, shares)[0]
                contacts.append((self._time_of_day(day), source))
        contacts.sort(key=lambda c: c[0])
        for t0, source in contacts:
            if source.type in ("zendesk", "freshdesk"):
                self._ticket(t0, source)
            elif source.type == "imap":
                self._thread(t0, source)
            else:
                self._log_entry(t0, source)
        for source in self.d.sources:
            if source.type in ("qualtrics", "surveymonkey") and source.kind == "climate":
                self._climate(source)

    def _speed(self, t: float) -> float:
        year = self._school_year(dt.datetime.fromtimestamp(t, self.clock.zone).date())
        return self.d.speed * self.year_speed.get(year, 1.0)

    def _reply_delay(self, t0: float, priority: str) -> float:
        return _lognormal(self.rng, REPLY_MEDIAN[priority] * self._speed(t0), 0.9)

    def _priority(self, topic: Topic) -> str:
        if topic.high_risk:  # high-risk contacts are at least `high` (docs/metrics.md)
            urgent = topic.key in ("safety", "threat") and self.rng.random() < 0.45
            return "urgent" if urgent else "high"
        return PRIORITIES.pick(self.rng)

    def _topic(self, table: _Weighted = TOPIC_TABLE) -> Topic:
        return table.pick(self.rng)

    def _subject(self, topic: Topic, person: Person) -> str:
        if person.locale == "es" and topic.subjects_es:
            return self.rng.choice(topic.subjects_es)
        return self.rng.choice(topic.subjects)

    def _new_interaction(
        self, t0: float, source: SourceSpec, topic: Topic, person: Person, **fields
    ) -> Interaction:
        interaction = Interaction(
            interaction_id=self.ids.next_interaction(),
            district_id=self.d.district_id,
            source_name=source.name,
            created_at=_utc(t0),
            subject=self._subject(topic, person),
            topic=topic.key,
            requester=person,
            **fields,
        )
        self.interactions.append(interaction)
        return interaction

    def _ticket(self, t0: float, source: SourceSpec) -> None:
        topic = self._topic()
        if topic.key == "human_resources":
            role = HR_REQUESTERS.pick(self.rng)
        else:
            role = STAKEHOLDERS.pick(self.rng)
        person = self._requester(role)
        school = self.home_school.get(person.person_id)
        groups, orgs = self.vendor_ids[source.name]
        channel = CHANNELS[source.type].pick(self.rng)
        department = GROUPS[topic.group]
        interaction = self._new_interaction(
            t0,
            source,
            topic,
            person,
            channel=channel,
            tags=[topic.key, *topic.tags],
            priority=self._priority(topic),
            assignee=self.agents[department],
            group=topic.group,
            group_id=groups[topic.group],
            organization=None if school is None else self.d.schools[school],
            organization_id=None if school is None else orgs[self.d.schools[school]],
            school_id=None if school is None else self.school_ids[school],
            department=department,
            opened_by_agent=channel == "phone",
        )
        self._ticket_events(interaction, t0, source)

    def _ticket_events(self, i: Interaction, t0: float, source: SourceSpec) -> None:
        agent = i.assignee or self.agents[None]
        line = _Timeline(self.cutoff)
        line.add(t0, "status", agent if i.opened_by_agent else i.requester, "new")
        if i.opened_by_agent:
            line.add(t0, "agent_reply", agent)  # the phone/walk-in ticket's opening comment
        elif (
            source.type == "zendesk"
            and i.channel in ("web", "other", "email")
            and self.rng.random() < 0.75
        ):
            line.add(t0 + self.rng.uniform(20, 120), "auto_reply", SYSTEM)
        first, waited = self._first_reply(t0, i, line, agent)
        solved = self._solve(t0, first, line, agent)
        if solved is not None:
            solved = self._maybe_reopen(solved, i, line, agent)
            self._close(solved[-1], source, line, agent)
            self._rate(i, source, solved, waited)
        i.events = line.events(self.ids)

    def _first_reply(
        self, t0: float, i: Interaction, line: _Timeline, agent: Person
    ) -> tuple[float | None, float | None]:
        """Adds the first response (and a follow-up exchange); returns (the last agent reply,
        business minutes waited for the first), (None, None) when never answered. A phone
        ticket settled during the call has no response by the metric's rule (its opening
        comment is not one) yet its caller waited nothing: (t0, 0)."""
        if i.opened_by_agent and self.rng.random() < 0.3:
            return t0, 0.0
        if self.rng.random() < UNANSWERED[i.priority]:
            return None, None
        if not self.clock.is_open(t0) and self.rng.random() < 0.05:
            first = t0 + self.rng.uniform(10, 90) * 60  # an agent answering from home
        else:
            first = max(self.clock.add(t0, self._reply_delay(t0, i.priority)), t0 + 60)
        if self.rng.random() < 0.12:
            line.add(t0 + (first - t0) * self.rng.uniform(0.2, 0.8), "agent_note", agent)
        line.add(first, "agent_reply", agent)
        line.add(first, "status", agent, "pending" if self.rng.random() < 0.4 else "open")
        last = first
        if self.rng.random() < 0.25:
            back = first + self.rng.uniform(1, 30) * HOUR
            line.add(back, "requester_reply", i.requester)
            line.add(back, "status", i.requester, "open")
            last = self.clock.add(back, self._reply_delay(back, "normal") / 2)
            line.add(last, "agent_reply", agent)
        return last, self.clock.minutes_between(t0, first)

    def _solve(
        self, t0: float, last_reply: float | None, line: _Timeline, agent: Person
    ) -> list[float] | None:
        if last_reply is None:
            if self.rng.random() >= 0.15:
                return None  # left open and unanswered
            at = self.clock.add(t0, _lognormal(self.rng, 600, 1.0))
        elif self.rng.random() < 0.93:
            at = self.clock.add(last_reply, _lognormal(self.rng, 180, 1.1))
        else:
            return None
        line.add(at, "status", agent, "solved")
        return [at]

    def _maybe_reopen(
        self, solved: list[float], i: Interaction, line: _Timeline, agent: Person
    ) -> list[float]:
        """About 7 % of solved tickets come back: requester writes, open, answered, solved."""
        if self.rng.random() >= 0.07:
            return solved
        back = solved[0] + self.rng.uniform(3, 72) * HOUR
        line.add(back, "requester_reply", i.requester)
        line.add(back, "status", i.requester, "open")
        reply = self.clock.add(back, self._reply_delay(back, i.priority))
        line.add(reply, "agent_reply", agent)
        again = self.clock.add(reply, _lognormal(self.rng, 120, 1.0))
        line.add(again, "status", agent, "solved")
        return [*solved, again]

    def _close(self, solved: float, source: SourceSpec, line: _Timeline, agent: Person) -> None:
        if source.type == "zendesk":
            line.add(solved + 4 * DAY, "status", SYSTEM, "closed")  # Zendesk's 4-day automation
        elif self.rng.random() < 0.5:
            line.add(solved + self.rng.uniform(1, 3) * DAY, "status", agent, "closed")

    def _satisfaction(self, waited: float | None, rng: random.Random | None = None) -> float:
        """A latent 1..5 satisfaction that falls with the business minutes waited."""
        base = 2.2 if waited is None else 4.55 - 0.42 * math.log1p(waited / 60)
        return min(5.0, max(1.0, (rng or self.rng).gauss(base, 0.75)))

    def _rating(
        self, at: float, scale: str, waited: float | None, rng: random.Random | None = None
    ) -> Rating:
        s = self._satisfaction(waited, rng)
        if scale == "good_bad":
            value: int | str = "good" if s >= 3.0 else "bad"
        elif scale == "1-5":
            value = round(s)
        elif scale == "1-10":
            value = round(1 + (s - 1) * 9 / 4)
        else:
            value = round((s - 1) * 10 / 4)
        return Rating(_utc(math.floor(at)), scale, value)  # type: ignore[arg-type]

    def _rate(
        self, i: Interaction, source: SourceSpec, solved: list[float], waited: float | None
    ) -> None:
        """Helpdesk CSAT after the first solve (re-rated after a reopen's solve at times), or a
        point-of-contact survey response naming the ticket."""
        if source.csat:
            if self.rng.random() >= 0.32:
                return
            for k, at in enumerate(solved):
                if k and self.rng.random() >= 0.5:
                    continue
                at += self.rng.uniform(1, 48) * HOUR
                if at < self.cutoff:
                    i.ratings.append(self._rating(at, source.csat, waited))
        elif self.poc is not None and self.rng.random() < 0.35:
            at = solved[-1] + self.rng.uniform(2, 96) * HOUR
            if at < self.cutoff:
                self.responses.append(
                    SurveyAnswerSet(
                        self._response_id(self.poc),
                        self.d.district_id,
                        self.poc.name,
                        _utc(math.floor(at)),
                        i.requester.role,
                        {},
                        interaction_id=i.interaction_id,
                        rating=self._rating(at, self.poc.scale or "1-5", waited),
                    )
                )

    def _rate_email(self, i: Interaction, t0: float, first: float | None) -> None:
        """Some email threads are rated through the district's point-of-contact survey, which
        names the thread by its root Message-ID as the requester's mail client shows it (angle
        brackets, upper case): staging must compare it as the address inside the brackets,
        case-insensitively (docs/metrics.md "Ratings"). The imap emulator gives the thread's first
        message the Message-ID <i{id}.0@{requester's domain}>."""
        rng = self.mail_rng
        if self.poc is None or rng.random() >= 0.3:
            return
        waited = None if first is None else self.clock.minutes_between(t0, first)
        at = (t0 if first is None else first) + rng.uniform(2, 96) * HOUR
        if at >= self.cutoff:
            return
        domain = i.requester.email.rsplit("@", 1)[1]
        self.responses.append(
            SurveyAnswerSet(
                self._response_id(self.poc, rng),
                self.d.district_id,
                self.poc.name,
                _utc(math.floor(at)),
                i.requester.role,
                {},
                interaction_id=i.interaction_id,
                rating=self._rating(at, self.poc.scale or "1-5", waited, rng),
                interaction_ref=f"<I{i.interaction_id}.0@{domain.upper()}>",
            )
        )

    def _thread(self, t0: float, source: SourceSpec) -> None:
        """An email thread: requester message, optional auto-reply, agent replies."""
        mailbox = configgen.mailbox_address(self.d, source)
        if source.internal:
            topic = TOPIC_BY_KEY["human_resources"]
            person = self._requester("staff")
            agents = [self._mail_agent(a) for a in (mailbox, *configgen.hr_responders(self.d))]
        else:
            topic = self._topic(EMAIL_TOPIC_TABLE)
            person = self._requester(MAIL_REQUESTERS.pick(self.rng))
            agents = [self.agents[GROUPS[topic.group]], self.agents[None]]
        school = None if source.school is None else self.school_ids[source.school]
        i = self._new_interaction(
            t0,
            source,
            topic,
            person,
            channel="email",
            tags=[],
            priority="normal",
            assignee=None,
            school_id=school,
            department=source.department,
        )
        line = _Timeline(self.cutoff)
        if self.rng.random() < (0.5 if source.internal else 0.6):
            line.add(t0 + self.rng.uniform(5, 60), "auto_reply", self._mail_agent(mailbox, True))
        first: float | None = None
        if self.rng.random() >= 0.07:
            first = max(self.clock.add(t0, self._reply_delay(t0, "normal")), t0 + 120)
            line.add(first, "agent_reply", self.rng.choice(agents))
            if self.rng.random() < 0.3:
                back = first + self.rng.uniform(0.5, 24) * HOUR
                line.add(back, "requester_reply", person)
                line.add(
                    self.clock.add(back, self._reply_delay(back, "normal") / 2),
                    "agent_reply",
                    self.rng.choice(agents),
                )
        i.events = line.events(self.ids)
        if not source.internal:
            self._rate_email(i, t0, first if first is not None and first < self.cutoff else None)

    def _mail_agent(self, address: str, automated: bool = False) -> Person:
        """The person behind a mailbox address (its auto-responder when automated)."""
        key = f"{'system' if automated else 'agent'}:{address}"
        found = self.pool.get(key)
        if not found:
            name = address.split("@")[0].title() + (" Auto-Reply" if automated else "")
            found = self.pool[key] = [
                self._person("system" if automated else "agent", email=address, name=name)
            ]
        return found[0]

    def _log_entry(self, t0: float, source: SourceSpec) -> None:
        """A front-office log line: a call (called back later) or a walk-in (served at once)."""
        topic = self._topic()
        person = self._requester(CALLERS.pick(self.rng))
        channel = "walk_in" if self.rng.random() < 0.25 else "phone"
        agent = self.agents[None]
        i = self._new_interaction(
            t0,
            source,
            topic,
            person,
            channel=channel,
            tags=[],
            priority=self._priority(topic),
            assignee=agent,
            school_id=None if source.school is None else self.school_ids[source.school],
        )
        line = _Timeline(self.cutoff)
        line.add(t0, "status", person, "new")
        if channel == "walk_in":
            first: float | None = t0 + self.rng.uniform(1, 10) * 60
        elif self.rng.random() < 0.06:
            first = None
        else:
            first = max(self.clock.add(t0, self._reply_delay(t0, i.priority)), t0 + 60)
        if first is not None:
            line.add(first, "agent_reply", agent)
            if self.rng.random() < 0.85:
                line.add(
                    self.clock.add(first, _lognormal(self.rng, 120, 1.0)), "status", agent, "solved"
                )
        i.events = line.events(self.ids)

    # -- surveys -------------------------------------------------------------------------------

    def _response_id(self, source: SourceSpec, rng: random.Random | None = None) -> str:
        rng = rng or self.rng
        if source.type == "surveymonkey":
            return str(rng.randrange(10**10, 10**11))
        alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
        return "R_" + "".join(rng.choices(alphabet, k=15))

    def _climate(self, source: SourceSpec) -> None:
        """A fall climate survey each school year: 22 September to 10 October, local dates."""
        for year in range(self.spec.start.year - 1, self.spec.as_of.year + 1):
            window = [dt.date(year, 9, 22) + dt.timedelta(days=k) for k in range(19)]
            window = [day for day in window if self.spec.start <= day <= self.spec.as_of]
            if not window:
                continue
            base = self.rng.uniform(0.55, 0.8)
            leaning = {item: base + self.rng.uniform(-0.1, 0.1) for item in CLIMATE_ITEMS}
            enrollment = self.district.enrollment_for(year + 1)
            for _ in range(round((1.5 * enrollment + 25) * len(window) / 19)):
                day = self.rng.choice(window)
                at = self.clock.local(day, self.rng.uniform(7 * HOUR, 21 * HOUR))
                role = RESPONDENTS.pick(self.rng)
                answers = {item: self._likert(p) for item, p in leaning.items()}
                self.responses.append(
                    SurveyAnswerSet(
                        self._response_id(source),
                        self.d.district_id,
                        source.name,
                        _utc(math.floor(at)),
                        role,  # type: ignore[arg-type]
                        answers,
                    )
                )

    def _likert(self, agree: float) -> int | str | None:
        r = self.rng.random()
        if r < 0.05:
            return "dont_know"
        if r < 0.09:
            return None  # left blank
        if self.rng.random() < agree:
            return 5 if self.rng.random() < 0.4 else 4
        return DISAGREE.pick(self.rng)


def generate_world(spec: DemoSpec) -> World:
    """The world a spec describes; the same spec always gives the identical world."""
    cfg = DeploymentConfig.model_validate(configgen.build_config(spec))
    ids = _Ids()
    people: list[Person] = [SYSTEM]
    interactions: list[Interaction] = []
    responses: list[SurveyAnswerSet] = []
    for d in spec.district_specs():
        district = _DistrictWorld(spec, d, cfg.district(d.district_id), ids)
        district.run()
        people += district.people
        interactions += district.interactions
        responses += district.responses
    return World(
        as_of=spec.as_of,
        people=people,
        interactions=interactions,
        survey_responses=responses,
        config_yaml=configgen.render_config(spec),
    )


def render_config(spec: DemoSpec) -> str:
    """The YAML deployment config of a spec's world, without generating the world."""
    return configgen.render_config(spec)


def render_demo_config() -> str:
    """What config/demo.yml must hold."""
    return configgen.render_config(demo_spec())


def write_demo_config(path: str | Path = PROJECT_ROOT / "config" / "demo.yml") -> Path:
    path = Path(path)
    path.write_text(render_demo_config())
    return path


def _file_drop_row(i: Interaction, zone, columns: dict[str, str]) -> dict[str, str]:
    def local(t: dt.datetime | None) -> str:
        return "" if t is None else t.astimezone(zone).isoformat(sep=" ")

    # what the district's own system would export: the first reply that is not the opening
    # comment, and the last entry into solved/closed while the ticket is still done
    events = sorted(i.events, key=lambda e: (e.at, e.event_id))
    opening = i.opening_comment
    replies = [e.at for e in events if e.kind == "agent_reply" and e is not opening]
    solved, previous = [], None
    for e in (e for e in events if e.kind == "status"):
        if e.status in DONE and previous not in DONE:
            solved.append(e.at)
        previous = e.status
    solved = solved if previous in DONE else []
    values = {
        "id": str(i.interaction_id),
        "created_at": local(i.created_at),
        "channel": i.channel,
        "topic": i.topic,
        "priority": i.priority,
        "requester_email": i.requester.email,
        "first_response_at": local(replies[0] if replies else None),
        "resolved_at": local(solved[-1] if solved else None),
    }
    return {columns[k]: v for k, v in values.items() if k in columns}


def write_file_drop(world: World, source_name: str, folder: str | Path) -> list[Path]:
    """Write a file_drop source's interactions as monthly CSVs named `<source>_<YYYY-MM>.csv`
    with the configured column names; local times with their UTC offset. Each file's
    modification time is its latest change, so reruns give identical file versions."""
    cfg = DeploymentConfig.model_validate(yaml.safe_load(world.config_yaml))
    district, source = cfg.source(source_name)
    opts = source.opts
    zone = ZoneInfo(district.timezone)
    by_month: dict[str, list[Interaction]] = {}
    for i in world.for_source(source_name):
        by_month.setdefault(i.created_at.astimezone(zone).strftime("%Y-%m"), []).append(i)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for month, rows in sorted(by_month.items()):
        path = folder / f"{source_name}_{month}.csv"
        with path.open("w", newline="") as fh:
            writer = csv.DictWriter(
                fh, fieldnames=list(opts.columns.values()), delimiter=opts.delimiter
            )
            writer.writeheader()
            writer.writerows(_file_drop_row(i, zone, opts.columns) for i in rows)
        stamp = max(i.updated_at for i in rows).timestamp()
        os.utime(path, (stamp, stamp))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write-config", action="store_true", help="write config/demo.yml from demo_spec()"
    )
    parser.add_argument("--small", action="store_true", help="describe small_spec() instead")
    args = parser.parse_args(argv)
    if args.write_config:
        path = write_demo_config()
        load_config(path)
        print(f"wrote {path}")
        return 0
    world = generate_world(small_spec() if args.small else demo_spec())
    by_source: dict[str, int] = {}
    for i in world.interactions:
        by_source[i.source_name] = by_source.get(i.source_name, 0) + 1
    for r in world.survey_responses:
        by_source[r.source_name] = by_source.get(r.source_name, 0) + 1
    for name, n in sorted(by_source.items()):
        print(f"{name:32} {n:7}")
    print(
        f"interactions {len(world.interactions)}, survey responses "
        f"{len(world.survey_responses)}, people {len(world.people)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
