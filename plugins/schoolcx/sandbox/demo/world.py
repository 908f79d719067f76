"""The canonical, vendor-neutral world the generator produces.

The generator (schoolcx.sandbox.demo.generator) fills it; each vendor emulator renders the part that
belongs to its sources in that vendor's API shape; tests compute expected metrics straight from
it. All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

Role = Literal["parent", "student", "staff", "community", "agent", "system"]
EventKind = Literal[
    "agent_reply",  # public reply by a district agent (counts as a response)
    "agent_note",  # private/internal note (never a response)
    "auto_reply",  # trigger/automation/auto-responder message (never a response)
    "requester_reply",  # the requester writes again
    "status",  # status change to `status`
]
Status = Literal["new", "open", "pending", "solved", "closed"]
Channel = Literal["web", "email", "phone", "chat", "social", "walk_in", "other"]
RatingScale = Literal["good_bad", "1-5", "1-10", "0-10"]


@dataclass(frozen=True)
class Person:
    person_id: int  # stable within the world; vendors use it as their user id
    email: str
    name: str
    role: Role
    locale: str = "en"  # ISO 639-1
    # The helpdesk's stakeholder field is filled in for this person (not everyone is asked:
    # a blank field leaves a parent or community member `unknown` in the facts).
    role_on_file: bool = True


@dataclass(frozen=True)
class Event:
    at: dt.datetime
    kind: EventKind
    author: Person
    status: Status | None = None  # for kind == "status"
    event_id: int = 0  # unique within the world


@dataclass(frozen=True)
class Rating:
    at: dt.datetime
    scale: RatingScale
    value: int | str  # 'good'/'bad' for good_bad, else a number on the scale


@dataclass
class Interaction:
    interaction_id: int  # the vendor's ticket id / a thread number for email
    district_id: str
    source_name: str  # the configured source instance it belongs to
    created_at: dt.datetime
    subject: str
    channel: Channel
    topic: str  # transportation, enrollment, special_education, safety, ...
    tags: list[str]
    priority: Literal["urgent", "high", "normal", "low"]
    requester: Person
    assignee: Person | None
    group: str | None = None  # helpdesk group name (maps to a department in config)
    organization: str | None = None  # helpdesk organisation (maps to a school in config)
    group_id: int | None = None  # the vendor's id of `group` (what config mappings name)
    organization_id: int | None = None  # the vendor's id of `organization`
    school_id: str | None = None
    department: str | None = None
    opened_by_agent: bool = False  # phone / walk-in: the agent wrote the first public comment
    events: list[Event] = field(default_factory=list)
    ratings: list[Rating] = field(default_factory=list)  # several: the latest counts

    @property
    def opening_comment(self) -> Event | None:
        """An agent-opened ticket's opening comment: the agent's first comment, made at creation.
        It is the ticket's description, rendered by the vendors in the creation audit, never a
        reply. (Status events share its instant, so it need not be the first event.)"""
        if not self.opened_by_agent:
            return None
        for e in sorted(self.events, key=lambda e: (e.at, e.event_id)):
            if e.at > self.created_at:
                break
            if e.kind == "agent_reply" and e.at == self.created_at:
                return e
        return None

    @property
    def updated_at(self) -> dt.datetime:
        times = [self.created_at] + [e.at for e in self.events] + [r.at for r in self.ratings]
        return max(times)


@dataclass(frozen=True)
class SurveyAnswerSet:
    response_id: str
    district_id: str
    source_name: str
    submitted_at: dt.datetime
    respondent_role: Role
    # stable item code -> answer: 1..5 (strongly disagree .. strongly agree), "dont_know" or None
    answers: dict[str, int | str | None]
    interaction_id: int | None = None  # point-of-contact survey: rated interaction
    rating: Rating | None = None
    # The reference the respondent's survey carries when it is not the interaction id: an
    # email thread's root Message-ID as a mail client shows it ('<I12.0@EXAMPLE.ORG>').
    interaction_ref: str | None = None


@dataclass
class World:
    as_of: dt.date  # last local date with data
    people: list[Person]
    interactions: list[Interaction]
    survey_responses: list[SurveyAnswerSet]
    config_yaml: str  # the deployment config describing this world's districts

    def for_source(self, source_name: str) -> list[Interaction]:
        return [i for i in self.interactions if i.source_name == source_name]

    def responses_for_source(self, source_name: str) -> list[SurveyAnswerSet]:
        return [r for r in self.survey_responses if r.source_name == source_name]


def as_seen_at(world: World, instant: dt.datetime) -> World:
    """The world as a vendor would serve it at `instant`: what was created by then, with only
    the events and ratings that had happened. (A ticket answered the next morning exists
    tonight, unanswered.)"""
    from dataclasses import replace

    interactions = [
        replace(
            i,
            events=[e for e in i.events if e.at <= instant],
            ratings=[r for r in i.ratings if r.at <= instant],
        )
        for i in world.interactions
        if i.created_at <= instant
    ]
    responses = [r for r in world.survey_responses if r.submitted_at <= instant]
    return replace(world, interactions=interactions, survey_responses=responses)
